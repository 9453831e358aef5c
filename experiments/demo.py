r"""The README demo: DP-SAT vs SAM, all techniques, on CIFAR-10S.

  python experiments/demo.py --out=runs/demo            # smoke scale, CPU
  python experiments/demo.py --out=runs/demo_paper --scale=paper

Trains, attacks and scores both models, then writes demo.md/.csv and
demo.png/.pdf. Flags: see `prifa_tf/paper/cli.py` and the README.
"""

from prifa_tf.paper import cli
from prifa_tf.paper import demo

if __name__ == "__main__":
  cli.run(demo.DEMO)
