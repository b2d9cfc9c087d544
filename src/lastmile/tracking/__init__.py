"""The customer's tracking page: token links, ETA windows, instructions, ratings, views."""
