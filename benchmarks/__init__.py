"""Benchmarks of adjoint against hand-written numpy, autograd, JAX and PyTorch: run
`python -m benchmarks` (or `make bench`)."""
