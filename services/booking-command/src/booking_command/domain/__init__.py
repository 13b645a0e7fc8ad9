"""Pure domain: the Venue, Event and Booking aggregates and their rules; no I/O."""
