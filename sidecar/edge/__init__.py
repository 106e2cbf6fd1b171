"""What the sidecar's two HTTP edges, the JSON API and the approval page, share.

The app's typed state, who is calling (bearer tokens) and at what rate, the
body limit and strict JSON, the metrics, the types of text that arrives, and
the one map from pva's errors to HTTP status. Neither edge imports the other.
"""
