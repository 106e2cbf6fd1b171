"""Notifications: plan events told to webhooks and by e-mail, through an outbox written with each change.

``notices`` (pure) says which change is told and what the notice says;
``outbox`` keeps the events, the webhooks and every delivery in the audit
database; ``webhooks`` and ``mail`` send; ``worker`` runs them in every
``pva serve``, any number of them at once.
"""
