"""Redis-backed cart and instant checkout: stock reservations, payments, orders, commissions."""
