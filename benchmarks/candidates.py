"""Where a two-stage ranker's room is, on validation splits (never a test row).

    .venv/bin/python benchmarks/candidates.py [--protocol temporal] [--folds 7] \\
        [--generator als] [--ranker ease --ranker sequential_knn] [--candidates 100]

For the generator and each ranker, pooled over every (validation split, user) pair:
- NDCG@k of its own ranking of the whole unseen catalogue;
- NDCG@k of the *generator's* top-n candidates put in that ranker's order: the bar a re-ranker
  of those candidates has to clear. A booster that does not beat ordering its candidates by its
  best scorer adds cost and nothing else; compare two_stage in ``benchmarks/validation.py``,
  which runs the same splits;
- recall@n of its own top-n: the share of a user's held-out items that a re-ranker of those
  candidates could reach at all (for the generator, the candidate recall).

The rankers are fitted in-process on each split's training rows: none of them reads store
features, so this needs neither Postgres nor Redis.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

import numpy as np
from rich.console import Console
from rich.table import Table

from recsys.config import Settings
from recsys.evaluation.environment import describe_environment
from recsys.evaluation.folds import add_fold_arguments, fold_count, validation_fold
from recsys.evaluation.metrics import ndcg_by_user
from recsys.evaluation.runner import split_data
from recsys.ranking import InteractionData, Ranker, create_ranker

Pooled = dict[str, float]


def in_ranker_order(ranker: Ranker, pools: Mapping[str, list[str]], k: int) -> dict[str, list[str]]:
    """Each user's candidates, best first by ``ranker``'s score (unscorable ones last), top k."""
    ordered = {}
    for user, pool in pools.items():
        scores = np.nan_to_num(ranker.score(user, pool), nan=-np.inf)
        ordered[user] = [pool[i] for i in np.argsort(-scores, kind="stable")[:k]]
    return ordered


def recall_by_user(pools: Mapping[str, list[str]], relevant: Mapping[str, set[str]]) -> Pooled:
    return {user: len(relevant[user].intersection(pool)) / len(relevant[user])
            for user, pool in pools.items()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fold_arguments(parser)
    parser.add_argument("--generator", default="als")
    parser.add_argument("--ranker", action="append", help="default: ease and sequential_knn")
    parser.add_argument("--candidates", type=int, default=100)
    args = parser.parse_args()
    try:
        folds = fold_count(args.protocol, args.folds)
    except ValueError as error:
        parser.error(str(error))
    names = list(dict.fromkeys([args.generator, *(args.ranker or ["ease", "sequential_knn"])]))

    settings = Settings()
    full: dict[str, Pooled] = {name: {} for name in names}
    reordered: dict[str, Pooled] = {name: {} for name in names}
    recall: dict[str, Pooled] = {name: {} for name in names}
    users = []
    for fold in range(folds):
        spec = validation_fold(args.protocol, fold, dataset=args.dataset, path=args.path)
        data, train, test = split_data(spec, settings)
        matrix = InteractionData.from_frame(train, data.items["item_id"])
        known = set(matrix.user_ids)
        relevant = {
            str(user): set(items)
            for user, items in test.groupby("user_id")["item_id"]
            if str(user) in known
        }
        users.append(len(relevant))
        rankers = {name: create_ranker(name).fit(matrix) for name in names}
        tops = {
            name: {u: ranker.recommend(u, args.candidates).item_ids.tolist() for u in relevant}
            for name, ranker in rankers.items()
        }
        pools = tops[args.generator]
        for name, ranker in rankers.items():
            own = {user: top[: args.k] for user, top in tops[name].items()}
            for target, values in (
                (full, ndcg_by_user(own, relevant, args.k)),
                (reordered, ndcg_by_user(in_ranker_order(ranker, pools, args.k), relevant, args.k)),
                (recall, recall_by_user(tops[name], relevant)),
            ):
                target[name].update({f"{fold}/{user}": v for user, v in values.items()})

    table = Table(
        title=f"{args.dataset}, {args.protocol} protocol, {folds} validation splits "
        f"({', '.join(map(str, users))} users), mean over (split, user)",
        caption=f"measured with {describe_environment()}",
    )
    table.add_column("ranker")
    table.add_column(f"NDCG@{args.k}, whole catalogue", justify="right")
    table.add_column(f"NDCG@{args.k}, {args.generator}'s top {args.candidates}", justify="right")
    table.add_column(f"recall@{args.candidates}, own top {args.candidates}", justify="right")

    def mean(values: Pooled) -> float:
        return float(np.mean(list(values.values())))

    for name in names:
        table.add_row(
            name + (" (generator)" if name == args.generator else ""),
            f"{mean(full[name]):.4f}",
            f"{mean(reordered[name]):.4f}",
            f"{mean(recall[name]):.4f}",
        )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
