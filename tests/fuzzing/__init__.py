"""Random programs in adjoint's language (generate.py), checked against central differences
(check.py); test_fuzz.py runs a fixed sample in CI, `make fuzz` a long campaign (__main__.py).
Known bugs the generator steers around are listed in generate.AVOID."""
