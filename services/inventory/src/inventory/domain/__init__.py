"""Pure inventory rules: stock per ticket type, booking states, reserve/confirm/release."""
