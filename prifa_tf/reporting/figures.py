"""Figures: saved as PNG and PDF atomically, and checked like a reviewer.

``save`` titles, lays out and writes ``stem.png`` and ``stem.pdf``.
``legend_outside`` puts an axes' legend beside it, where it can cover no
data. ``problems`` lists what a reviewer would send back: a figure without
a title, a data panel without axis labels, an empty panel, a series with no
points, a one-point series drawn without a marker, or a legend that covers
a data point. The tests run ``problems`` on every figure the toolkit saves.
"""

import os
from typing import Dict, List, Optional

from matplotlib import collections as mcollections
from matplotlib import container as mcontainer
from matplotlib import figure as mfigure
from matplotlib import patches as mpatches
import numpy as np

_FIGURE_KWARGS = ("figsize", "dpi", "layout", "constrained_layout")


def subplots(*args, **kwargs):
  """``plt.subplots`` without pyplot: ``(figure, axes)``.

  The figure is a plain ``matplotlib.figure.Figure``: it joins no pyplot
  state and needs no GUI backend, so plotting works the same in a
  notebook, a headless worker or a thread, and no module has to switch
  matplotlib's backend. ``save`` writes it.
  """
  fig = mfigure.Figure(**{k: kwargs.pop(k) for k in _FIGURE_KWARGS
                          if k in kwargs})
  return fig, fig.subplots(*args, **kwargs)


def save(fig, out_dir: str, stem: str,
         title: Optional[str] = None) -> List[str]:
  """Titles, lays out and saves ``stem``.png/.pdf."""
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  paths = []
  for ext in ("png", "pdf"):
    path = os.path.join(out_dir, f"{stem}.{ext}")
    tmp = os.path.join(out_dir, f".{stem}.tmp.{ext}")
    fig.savefig(tmp, dpi=130, bbox_inches="tight")
    os.replace(tmp, path)
    paths.append(path)
  return paths


def legend_outside(ax, **kwargs):
  """The axes' legend to its right, outside the data area."""
  kwargs.setdefault("fontsize", 7)
  return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0),
                   borderaxespad=0.0, **kwargs)


def _labelled(artist) -> bool:
  return not str(artist.get_label()).startswith("_")


def _data_lines(ax):
  """Lines that are data.

  Labelled lines, and the data line of each labelled error-bar series
  (matplotlib labels its container, not it).
  """
  lines = [line for line in ax.get_lines()
           if _labelled(line) and line.get_visible()]
  for c in ax.containers:
    if isinstance(c, mcontainer.ErrorbarContainer) and _labelled(c):
      if c.lines[0] is not None:
        lines.append(c.lines[0])
  return lines


def _label(line, ax) -> str:
  for c in ax.containers:
    if isinstance(c, mcontainer.ErrorbarContainer) and c.lines[0] is line:
      return str(c.get_label())
  return str(line.get_label())


def _points(ax) -> np.ndarray:
  """Display coordinates of every data point of ``ax``."""
  pts = []
  for line in _data_lines(ax):
    xy = np.column_stack([np.atleast_1d(line.get_xdata()),
                          np.atleast_1d(line.get_ydata())]).astype(float)
    if len(xy):
      pts.append(line.get_transform().transform(xy))
  for coll in ax.collections:
    if isinstance(coll, mcollections.PathCollection):
      off = np.asarray(coll.get_offsets(), dtype=float)
      if off.size:
        pts.append(coll.get_offset_transform().transform(off))
  return np.concatenate(pts) if pts else np.zeros((0, 2))


def _has_data(ax) -> bool:
  return bool(_data_lines(ax) or any(
      isinstance(c, mcollections.PathCollection) for c in ax.collections) or
              any(isinstance(p, mpatches.Rectangle) for p in ax.patches))


def _bar_labels(ax) -> List[str]:
  """Labels of bar and histogram series (containers or their patches)."""
  labels = [str(c.get_label()) for c in ax.containers
            if isinstance(c, mcontainer.BarContainer) and _labelled(c)]
  labels += [str(p.get_label()) for p in ax.patches if _labelled(p)]
  return list(dict.fromkeys(labels))


def series(fig) -> Dict[str, List[str]]:
  """{axes title: labels of its data series} (lines, scatters, bars)."""
  out = {}
  for k, ax in enumerate(fig.axes):
    labels = [_label(line, ax) for line in _data_lines(ax)]
    labels += [str(c.get_label()) for c in ax.collections
               if _labelled(c) and np.asarray(
                   getattr(c, "get_offsets", lambda: [])()).size]
    labels += _bar_labels(ax)
    out[ax.get_title() or f"axes {k}"] = labels
  return out


def problems(fig) -> List[str]:
  """What a reviewer would send back about ``fig`` (empty: nothing)."""
  fig.canvas.draw()
  found = []
  titled = bool(fig._suptitle and fig._suptitle.get_text())  # pylint: disable=protected-access
  for k, ax in enumerate(fig.axes):
    if not ax.get_visible() or ax.get_label() == "<colorbar>":
      continue
    name = ax.get_title() or f"panel {k}"
    titled = titled or bool(ax.get_title())
    if not _has_data(ax):
      found.append(f"{name}: empty panel")
      continue
    if not ax.get_xlabel():
      found.append(f"{name}: no x label")
    shared = ax.get_shared_y_axes().get_siblings(ax)
    if not ax.get_ylabel() and not any(o.get_ylabel() for o in shared
                                       if o is not ax):
      found.append(f"{name}: no y label")
    for line in _data_lines(ax):
      n = len(np.atleast_1d(line.get_xdata()))
      label = _label(line, ax)
      if n == 0 or not np.isfinite(np.asarray(line.get_ydata(),
                                              dtype=float)).any():
        found.append(f"{name}: series {label!r} has no finite point")
      elif n == 1 and line.get_marker() in (None, "None", "", " "):
        found.append(f"{name}: one-point series {label!r} has no marker")
    legend = ax.get_legend()
    if legend is not None:
      box = legend.get_window_extent()
      pts = _points(ax)
      inside = ((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) &
                (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1))
      if inside.any():
        found.append(f"{name}: the legend covers {int(inside.sum())} data "
                     "point(s)")
  if not titled:
    found.append("no title")
  return found
