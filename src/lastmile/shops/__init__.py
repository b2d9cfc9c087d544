"""Shop connectors: orders arrive from an online shop, deliveries are reported back (Shopify)."""
