"""The driver app's server side: routes for drivers, device events, positions, proof of delivery."""
