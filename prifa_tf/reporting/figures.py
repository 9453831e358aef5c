"""Saving figures: PNG and PDF, written atomically."""

import os
from typing import List, Optional

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top


def save(fig, out_dir: str, stem: str,
         title: Optional[str] = None) -> List[str]:
  """Titles, lays out and saves ``stem``.png/.pdf; closes the figure."""
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  paths = []
  for ext in ("png", "pdf"):
    path = os.path.join(out_dir, f"{stem}.{ext}")
    tmp = os.path.join(out_dir, f".{stem}.tmp.{ext}")
    fig.savefig(tmp, dpi=130)
    os.replace(tmp, path)
    paths.append(path)
  plt.close(fig)
  return paths
