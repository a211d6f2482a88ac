"""Financial planning: DSO and aging, the cash-in forecast and the reserve for late money.

Planning reads invoices, payments and the latest scores; it sits beside ``actions`` at the top
of the data flow and is read by the API, the CLI and the dashboard.
"""
