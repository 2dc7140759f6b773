"""The PyTorch-shaped surface of tinytorch: what `import tinytorch as torch` finds at the top
level (creation, sampling, top-level ops, `cuda`/`backends`), and `import_as_torch` to run an
unedited PyTorch file. Each module is one concept; `tinytorch/__init__.py` is the index.
"""
