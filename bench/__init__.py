"""pva's benchmarks, each measured against its baseline in the same run (see bench/README.md)."""
