"""The address book: customers, their addresses (geocoded once), and the orders made for them."""
