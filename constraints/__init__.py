"""Rules as data, the overlay engine, findings and risk, business-area status, land-reserve accounting."""
