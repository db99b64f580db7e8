"""Brands publish catalogs: products, variants, stock, price, affiliate commission."""
