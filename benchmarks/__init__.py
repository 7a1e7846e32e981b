"""Speed and search-quality benchmarks (issue 5); not part of the test suite."""
