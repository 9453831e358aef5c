"""The paper's experiments as code: configs, sweeps, tables, figures."""
