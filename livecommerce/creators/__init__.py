"""The creator economy: collaborations and their rates, showcases, the marketplace,
affiliate links, attribution and the link-in-bio page's data.

``livecommerce.creators.rates`` is the one place that says what a creator earns on a
product; the cart calls it when it writes an order.
"""
