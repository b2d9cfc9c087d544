"""Standing orders: a customer's deliveries that repeat (issue 18 b)."""
