"""The brand console: a brand's orders (to fulfil and refund them) and its sales report.

``orders`` lists and reads the orders that hold a brand's products, ``sales`` sums them
by product, show or creator (with the CSV export), ``access`` says which brand a caller
may read, and ``api`` is the HTTP adapter (``/api/brand/...``).
"""
