"""Orders and their life cycle: pending, paid, shipped, delivered, refunded or cancelled."""
