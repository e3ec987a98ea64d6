"""CRM webhooks: a deal won or lost in the CRM becomes a conversion (or a lost lead) here.

They run on the service path (no user JWT): each provider's request is authenticated first (a
signature, basic auth or a token, compared in constant time), and only then is anything read or written.
"""
