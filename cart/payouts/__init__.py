"""Creator payouts: batching payable commission into transfers through a payout gateway.

``gateway.py`` the interface and the test gateway; ``run.py`` the job
(``livecommerce payouts``, or the worker's loop); ``check.py`` the books check;
``statements.py`` what a creator reads (its HTTP adapters: ``cart/earnings_api.py``). The
lifecycle of one ledger entry is ``cart/commissions.py``.
"""
