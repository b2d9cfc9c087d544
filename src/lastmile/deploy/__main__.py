"""``python -m lastmile.deploy``: where the installed deployment files are."""

from lastmile.deploy import FILES

print(FILES)
