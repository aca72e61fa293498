//! Generators of synthetic Pol bundles and HRIS data for the benchmarks.
