"""pva examples."""
