"""The HTTP routes of inventory, one module per resource."""
