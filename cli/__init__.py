"""Command-line front ends (installed as ``loopgan_cli``): thin argument parsing over the libraries."""
