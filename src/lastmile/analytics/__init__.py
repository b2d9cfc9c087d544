"""KPIs and reports over stored events (issue 7); formulas in ``lastmile.core.kpi``."""
