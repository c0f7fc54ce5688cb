"""Post-hoc views of a run directory: Pareto data (compute), Plotly page (draw), exports."""
