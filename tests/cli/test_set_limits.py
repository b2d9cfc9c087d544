"""`lastmile admin set-limits` (#17): the instance admin gives one organisation its own limits,
shows them, and puts them back to the instance's defaults; wrong values change nothing."""

from __future__ import annotations

from pathlib import Path

from test_admin_ops import run


def test_set_show_and_reset_an_organisations_limits(tmp_path: Path) -> None:
    made = run(
        ["admin", "create-org", "Florist", "--admin-email", "a@florist.example",
         "--password", "correct horse battery"],
        tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    shown = run(["admin", "set-limits", "Florist"], tmp_path, LASTMILE_ORG_ORDERS_PER_DAY="700")
    assert shown.returncode == 0, shown.stderr
    assert "orders per day 700 (the instance default)" in shown.stdout
    assert "api requests per minute 6,000 (the instance default)" in shown.stdout
    mine = run(
        ["admin", "set-limits", "Florist", "--orders-per-day", "250",
         "--api-requests-per-minute", "0"],
        tmp_path,
    )  # fmt: skip
    assert mine.returncode == 0, mine.stderr
    assert "orders per day 250 (its own)" in mine.stdout
    assert "api requests per minute no limit (its own)" in mine.stdout
    wrong = run(["admin", "set-limits", "Florist", "--orders-per-day", "lots"], tmp_path)
    assert wrong.returncode != 0 and "--orders-per-day" in wrong.stderr + wrong.stdout
    negative = run(["admin", "set-limits", "Florist", "--orders-per-day", "-5"], tmp_path)
    assert negative.returncode != 0
    still = run(["admin", "set-limits", "Florist"], tmp_path)
    assert "orders per day 250 (its own)" in still.stdout
    back = run(["admin", "set-limits", "Florist", "--orders-per-day", "default"], tmp_path)
    assert "orders per day 5,000 (the instance default)" in back.stdout
    assert "api requests per minute no limit (its own)" in back.stdout
    unknown = run(["admin", "set-limits", "Nobody"], tmp_path)
    assert unknown.returncode != 0 and "Nobody" in unknown.stderr + unknown.stdout
