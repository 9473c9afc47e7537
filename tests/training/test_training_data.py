"""Dataset adapter and the sharded, resumable data order."""

import numpy as np
import pytest

from sssd_hf.leads import STANDARD_LEADS
from sssd_hf.training.data import ECGSplit, ShardedEpochOrder, micro_batch_loader

from .conftest import make_dataset_dict

NLE_LEADS = ["I", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def test_each_rank_sees_a_disjoint_shard_of_every_epoch():
    n, batch, world = 50, 3, 4
    orders = [ShardedEpochOrder(n, batch, world, rank, seed=7) for rank in range(world)]
    per_epoch = orders[0].batches_per_epoch
    assert per_epoch == n // (batch * world)
    for epoch in range(3):
        steps = range(epoch * per_epoch, (epoch + 1) * per_epoch)
        shards = [np.concatenate([o.indices(s) for s in steps]) for o in orders]
        everything = np.concatenate(shards)
        assert len(np.unique(everything)) == len(everything) == per_epoch * batch * world  # no record twice
        assert everything.min() >= 0 and everything.max() < n
    # epochs are reshuffled, and the order is a function of (seed, step) only
    assert not np.array_equal(orders[0].indices(0), orders[0].indices(per_epoch))
    assert np.array_equal(orders[1].indices(5), ShardedEpochOrder(n, batch, world, 1, seed=7).indices(5))
    assert not np.array_equal(orders[1].indices(5), ShardedEpochOrder(n, batch, world, 1, seed=8).indices(5))


def test_order_refuses_a_split_smaller_than_one_global_batch():
    with pytest.raises(ValueError, match="fewer than one global batch"):
        ShardedEpochOrder(7, 4, 2, 0)


def test_batches_select_leads_and_map_statements():
    ds = make_dataset_dict(num_train=10, num_validation=1)["train"]
    data = ECGSplit(ds, NLE_LEADS, ["STACH", "AFIB"])  # SBRAD, SR are not used by this model
    batch = data.batch([0, 4, 2])
    raw = np.stack([np.asarray(ds[i]["signal"]) for i in (0, 4, 2)])
    rows = [STANDARD_LEADS.index(name) for name in NLE_LEADS]
    np.testing.assert_array_equal(batch["signal"].numpy(), raw[:, rows])
    assert batch["ecg_id"].tolist() == [1, 5, 3]
    # labels are vocabulary[i % 3] (+ AFIB when i % 5 == 0) over SBRAD, SR, STACH, AFIB:
    # ecg_id 1 -> SR, 5 -> STACH + AFIB, 3 -> SBRAD
    expected = {1: [0, 0], 5: [1, 1], 3: [0, 0]}
    for row, ecg_id in enumerate(batch["ecg_id"].tolist()):
        codes = [ds.features["labels"].feature.names[k] for k in ds[ecg_id - 1]["labels"]]
        assert batch["labels"][row].tolist() == [float("STACH" in codes), float("AFIB" in codes)]
        assert batch["labels"][row].tolist() == expected[ecg_id]


def test_statements_missing_from_the_dataset_are_refused():
    ds = make_dataset_dict(num_train=4, num_validation=1)["train"]
    with pytest.raises(ValueError, match=r"\['NORM'\].*not in the dataset's vocabulary"):
        ECGSplit(ds, NLE_LEADS, ["NORM", "SR"])
    with pytest.raises(ValueError, match="X1.* is not one of the 12 standard ECG leads"):
        ECGSplit(ds, ["I", "X1"], ["SR"])


def test_nan_records_are_named():
    data = ECGSplit(make_dataset_dict(num_train=4, num_validation=1, nan_ids=(3,))["train"], NLE_LEADS, ["SR"])
    data.batch([0, 1])
    with pytest.raises(ValueError, match=r"ecg_id \[3\].*NaN"):
        data.batch([1, 2])


def test_loader_yields_the_requested_micro_steps_in_order():
    ds = make_dataset_dict(num_train=12, num_validation=1)["train"]
    data = ECGSplit(ds, NLE_LEADS, ["SR"])
    order = ShardedEpochOrder(len(data), 2, seed=3)
    steps = [int(b["micro_step"]) for b in micro_batch_loader(data, order, 4, 9)]
    assert steps == [4, 5, 6, 7, 8]
    again = next(iter(micro_batch_loader(data, order, 7, 8)))
    assert again["ecg_id"].tolist() == [int(i) + 1 for i in order.indices(7)]
