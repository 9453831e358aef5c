"""Privacy contracts of the DP-Keras path (optimizer + PrivacyCallback).

* The secret noise seed is in no file that a fit, TensorBoard, a SavedModel
  or a checkpoint writes.
* ``num_microbatches`` cannot make the callback account the wrong batch.
* No logical batch can hold an example twice: a repeated dataset whose
  passes do not hold whole logical batches is refused.
* The budget guard cannot be outrun by ``steps_per_execution``.
* A batch whose rows do not split into whole examples (augmult views) is
  refused.
* ``poisson_dataset`` samples as the accountant assumes, and with
  ``sampling="poisson"`` every release is divided by the expected B, empty
  batches included.
"""

import os
import struct
import tempfile

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from prifa_tf.optim import dp_keras
from prifa_tf.privacy import accounting
from prifa_tf.training import keras_fit
from tests import fixtures

KERAS_LOSS = tf.keras.losses.SparseCategoricalCrossentropy(
    from_logits=True, reduction=tf.keras.losses.Reduction.NONE)


def small_model(**optimizer_kw):
  tf.keras.utils.set_random_seed(1)
  model = tf.keras.Sequential([
      tf.keras.Input((8, 8, 3)), tf.keras.layers.Flatten(),
      tf.keras.layers.Dense(16, activation="relu"),
      tf.keras.layers.Dense(10)])
  kw = dict(gradient_accumulation_steps=2, learning_rate=0.1)
  kw.update(optimizer_kw)
  model.compile(optimizer=dp_keras.DPSGDKerasSGDOptimizer(1.0, 1.0, **kw),
                loss=KERAS_LOSS)
  return model


def data(n, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.normal(size=(n, 8, 8, 3)).astype(np.float32),
          rng.integers(0, 10, n).astype(np.int32))


def varint(value):
  out = bytearray()
  while True:
    byte, value = value & 0x7F, value >> 7
    out.append(byte | (0x80 if value else 0))
    if not value:
      return bytes(out)


def encodings(seed):
  """Every way the seed could be written: raw int64 either endianness,
  protobuf's varint (a scalar int64 Const), and decimal text."""
  return {"little-endian": struct.pack("<q", seed),
          "big-endian": struct.pack(">q", seed),
          "varint": varint(seed), "decimal": str(seed).encode()}


class SeedSecrecyTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    fixtures.quiet_tf()

  def test_seed_in_no_graph_savedmodel_or_checkpoint(self):
    for sharpness in (False, True):
      out = tempfile.mkdtemp()
      tf.keras.utils.set_random_seed(1)
      model = tf.keras.Sequential([
          tf.keras.Input((8, 8, 3)), tf.keras.layers.Flatten(),
          tf.keras.layers.Dense(10)])
      cls = (dp_keras.DPSATKerasSGDOptimizer if sharpness
             else dp_keras.DPSGDKerasSGDOptimizer)
      kw = dict(rho=0.05) if sharpness else {}
      opt = cls(1.0, 1.0, gradient_accumulation_steps=2, learning_rate=0.1,
                **kw)  # The default seed: OS entropy.
      model.compile(optimizer=opt, loss=KERAS_LOSS)
      x, y = data(16)
      ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(
          4, drop_remainder=True)
      model.fit(ds, epochs=1, verbose=0, callbacks=[
          keras_fit.PrivacyCallback(num_examples=16, batch_size=8),
          tf.keras.callbacks.TensorBoard(os.path.join(out, "tb"),
                                         write_graph=True)])
      self.assertEqual(int(opt.counters["noise_draws"].numpy()), 2)
      model.save(os.path.join(out, "saved_model"))
      model.save(os.path.join(out, "model.h5"))
      tf.train.Checkpoint(model=model, optimizer=opt).save(
          os.path.join(out, "ckpt", "ckpt"))
      files = [os.path.join(root, f) for root, _, names in os.walk(out)
               for f in names]
      self.assertTrue(any("events" in f for f in files))
      graphs = [f for f in files if "train" in f and "events" in f]
      self.assertTrue(graphs)  # The graph TensorBoard wrote is searched.
      found = []
      for path in files:
        with open(path, "rb") as f:
          blob = f.read()
        for name, pattern in encodings(opt.noise_seed).items():
          if len(pattern) >= 7 and pattern in blob:
            found.append((os.path.relpath(path, out), name))
      self.assertEqual(found, [], f"noise seed {opt.noise_seed} written")

  def test_encodings_find_a_seed_that_is_written(self):
    # The search above can fail: a graph with the seed as a constant is
    # found (the varint of a scalar int64 Const).
    seed = int.from_bytes(os.urandom(8), "little") >> 2
    out = tempfile.mkdtemp()
    writer = tf.summary.create_file_writer(out)
    @tf.function
    def f():
      return tf.constant(seed, tf.int64) + 1
    tf.summary.trace_on(graph=True)
    f()
    with writer.as_default():
      tf.summary.trace_export("graph", step=0)
    writer.flush()
    blob = b"".join(open(os.path.join(out, n), "rb").read()
                    for n in os.listdir(out))
    self.assertTrue(any(p in blob for p in encodings(seed).values()))


class AccountingContractsTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    fixtures.quiet_tf()

  def fit(self, model, ds, callback, **kw):
    return model.fit(ds, epochs=1, verbose=0, callbacks=[callback], **kw)

  def test_num_microbatches_other_than_one_example_each_is_refused(self):
    x, y = data(64)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(
        8, drop_remainder=True)
    model = small_model(num_microbatches=2)
    with self.assertRaisesRegex(Exception, "num_microbatches"):
      self.fit(model, ds, keras_fit.PrivacyCallback(num_examples=64))
    # One microbatch per example is TF-Privacy's per-example DP-SGD: the
    # callback then accounts B = k b = 16 examples.
    model = small_model(num_microbatches=8)
    callback = keras_fit.PrivacyCallback(num_examples=64)
    self.fit(model, ds, callback)
    self.assertEqual(callback.batch_size, 16)
    self.assertAlmostEqual(callback.epsilon,
                           accounting.epsilon(64, 16, 1.0, 4, 1e-5))

  def test_rows_must_split_into_whole_examples(self):
    x, y = data(8)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(
        8, drop_remainder=True)  # 8 rows at 3 views: not whole examples.
    model = small_model(augmult=3, gradient_accumulation_steps=1)
    with self.assertRaisesRegex(Exception, "whole"):
      self.fit(model, ds, keras_fit.PrivacyCallback(num_examples=8))

  def test_repeated_data_that_splits_logical_batches_is_refused(self):
    # n=24, b=4: a pass holds 6 physical batches, k=4 does not divide it,
    # so a logical batch would hold examples of two passes (duplicates).
    x, y = data(24)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(24).batch(
        4, drop_remainder=True).repeat()
    model = small_model(gradient_accumulation_steps=4)
    with self.assertRaisesRegex(ValueError, "pass over the data"):
      self.fit(model, ds, keras_fit.PrivacyCallback(num_examples=24,
                                                    batch_size=16),
               steps_per_epoch=4)
    self.assertEqual(int(model.optimizer.iterations.numpy()), 0)
    # The same pipeline at k=3 (6 = 2 x 3): whole logical batches per pass.
    model = small_model(gradient_accumulation_steps=3)
    callback = keras_fit.PrivacyCallback(num_examples=24, batch_size=12)
    self.fit(model, ds, callback, steps_per_epoch=6)
    self.assertEqual(int(model.optimizer.iterations.numpy()), 2)

  def test_steps_per_execution_cannot_outrun_the_budget(self):
    x, y = data(64)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(
        8, drop_remainder=True)
    target = (accounting.epsilon(64, 16, 1.0, 3, 1e-5) +
              accounting.epsilon(64, 16, 1.0, 4, 1e-5)) / 2
    model = small_model()
    model.compile(optimizer=model.optimizer, loss=KERAS_LOSS,
                  steps_per_execution=8)
    with self.assertRaisesRegex(ValueError, "steps_per_execution"):
      self.fit(model, ds, keras_fit.PrivacyCallback(
          num_examples=64, batch_size=16, target_epsilon=target))
    self.assertEqual(int(model.optimizer.iterations.numpy()), 0)
    # steps_per_execution = k: one logical step per execution, guarded.
    model = small_model()
    model.compile(optimizer=model.optimizer, loss=KERAS_LOSS,
                  steps_per_execution=2)
    callback = keras_fit.PrivacyCallback(num_examples=64, batch_size=16,
                                         target_epsilon=target)
    self.fit(model, ds, callback)
    self.assertEqual(int(model.optimizer.iterations.numpy()), 3)
    self.assertLessEqual(callback.epsilon, target)


class PoissonFitTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    fixtures.quiet_tf()

  def test_poisson_dataset_samples_each_example_at_rate_q(self):
    n, b, k = 200, 20, 2
    x, y = np.arange(n, dtype=np.float32)[:, None], np.arange(n)
    ds = keras_fit.poisson_dataset(x, y, b, k, seed=0)
    self.assertEqual(int(ds.cardinality()), k * (n // b))
    counts, sizes = np.zeros(n), []
    epochs = 20
    for _ in range(epochs):  # Each epoch draws afresh.
      batches = [yb.numpy() for _, yb in ds]
      self.assertLen(batches, k * (n // b))
      for step in range(n // b):
        logical = np.concatenate(batches[k * step:k * step + k])
        self.assertLen(set(logical), len(logical))  # No example twice.
        sizes.append(len(logical))
        counts[logical] += 1
    draws = epochs * (n // b)
    q = b / n
    # Inclusion counts are Binomial(draws, q): mean and spread.
    self.assertAlmostEqual(counts.mean() / draws, q, delta=0.005)
    self.assertAlmostEqual(counts.std(), np.sqrt(draws * q * (1 - q)),
                           delta=0.15 * np.sqrt(draws * q * (1 - q)))
    self.assertAlmostEqual(np.std(sizes), np.sqrt(n * q * (1 - q)),
                           delta=0.2 * np.sqrt(n * q * (1 - q)))
    same = [yb.numpy() for _, yb in keras_fit.poisson_dataset(x, y, b, k,
                                                               seed=0)]
    again = [yb.numpy() for _, yb in keras_fit.poisson_dataset(x, y, b, k,
                                                                seed=0)]
    for a, c in zip(same, again):
      np.testing.assert_array_equal(a, c)
    with self.assertRaisesRegex(ValueError, "batch_size"):
      keras_fit.poisson_dataset(x, y, 0)

  def test_poisson_fit_divides_by_the_expected_batch(self):
    n, b, k = 64, 16, 2
    x, y = data(n)
    updates, keys = {}, {}
    for sampling in ("poisson", "shuffle"):
      model = small_model(learning_rate=1.0, gradient_accumulation_steps=k)
      model.optimizer._noise_multiplier = 0.0  # pylint: disable=protected-access
      before = [v.numpy() for v in model.trainable_variables]
      ds = keras_fit.poisson_dataset(x, y, b, k, steps_per_epoch=1, seed=3)
      # The same draw, divided by the realised count (no n: no ε, and no
      # check of passes, which a Poisson draw does not have).
      callback = (keras_fit.PrivacyCallback(num_examples=n, batch_size=b,
                                            sampling="poisson")
                  if sampling == "poisson" else keras_fit.PrivacyCallback())
      model.fit(ds, epochs=1, verbose=0, callbacks=[callback])
      keys[sampling] = callback.key
      realised = float(model.optimizer.counters["last_batch"].numpy())
      updates[sampling] = [v.numpy() - w for v, w in
                           zip(model.trainable_variables, before)]
    self.assertNotEqual(realised, b)  # The draw is not of size B.
    for p, s_ in zip(updates["poisson"], updates["shuffle"]):
      np.testing.assert_allclose(p, s_ * realised / b, rtol=1e-5,
                                 atol=1e-7)
    self.assertEqual(keys["poisson"], "eps[poisson]")

  def test_empty_logical_batches_are_released_and_counted(self):
    n, b, k = 16, 2, 2  # q = 1/8: some physical batches are empty.
    x, y = data(n)
    model = small_model(gradient_accumulation_steps=k)
    callback = keras_fit.PrivacyCallback(num_examples=n, batch_size=b,
                                         sampling="poisson")
    ds = keras_fit.poisson_dataset(x, y, b, k, seed=0)
    sizes = [len(yb) for _, yb in ds]
    self.assertIn(0, sizes)
    model.fit(ds, epochs=1, verbose=0, callbacks=[callback])
    steps = n // b
    self.assertEqual(int(model.optimizer.iterations.numpy()), steps)
    self.assertEqual(int(model.optimizer.counters["noise_draws"].numpy()),
                     steps)
    self.assertAlmostEqual(callback.epsilon,
                           accounting.epsilon(n, b, 1.0, steps, 1e-5))
    with self.assertRaisesRegex(ValueError, "poisson"):
      keras_fit.PrivacyCallback(num_examples=n, sampling="poisson")


if __name__ == "__main__":
  absltest.main()
