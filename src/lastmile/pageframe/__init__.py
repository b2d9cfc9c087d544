"""The dashboard's page frame (layout, viewer, rendering) and the plan map: below every slice's pages.

A package of its own, not part of ``web`` (the pages that combine slices, above them), so
that no slice is both below and above another (its templates and static files stay in
``lastmile.web``)."""
