"""Baseline for `cargo bench --bench eval`: scikit-learn's IsolationForest on the CMU benchmark.

Same protocol as `keystroke-workbench eval --detector isolation-forest`: per subject, train on
reps 1-200 (100 trees, max_samples auto, contamination auto), genuine = reps 201-400, impostors
= first 5 reps of every other subject; EER as in the K&M scripts. Prints the mean EER and the wall
time of the evaluation (data loading excluded), and of its fit + score_samples calls alone, for
each seed.

    pip install scikit-learn numpy
    python3 benches/sklearn_cmu_iforest.py [--seeds K] [--train-samples N] [--cmu PATH]
"""
import argparse
import time

import numpy as np
from sklearn.ensemble import IsolationForest


def eer(genuine, impostor):
    # Anomaly = -score_samples; impostors positive; flagged when anomaly >= cutoff.
    scores = np.concatenate([-genuine, -impostor])
    is_imp = np.concatenate([np.zeros(len(genuine), bool), np.ones(len(impostor), bool)])
    cutoffs = np.concatenate([[np.inf], np.unique(scores)[::-1]])
    miss = np.array([(~(scores[is_imp] >= c)).mean() for c in cutoffs])
    fa = np.array([(scores[~is_imp] >= c).mean() for c in cutoffs])
    d = miss - fa
    j = np.argmax(d < 0)
    i = j - 1
    a = (miss[i] - fa[i]) / (fa[j] - fa[i] - miss[j] + miss[i])
    return miss[i] + a * (miss[j] - miss[i])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cmu", default="sample_sessions/cmu/DSL-StrongPasswordData.csv")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--train-samples", type=int, default=200)
    args = parser.parse_args()
    raw = np.genfromtxt(args.cmu, delimiter=",", skip_header=1, dtype=str)
    subjects = list(dict.fromkeys(raw[:, 0]))
    x = raw[:, 3:].astype(float)
    by_subject = {s: x[raw[:, 0] == s] for s in subjects}
    for seed in range(args.seeds):
        started = time.perf_counter()
        model_seconds = 0.0
        eers = []
        for s in subjects:
            data = by_subject[s]
            impostors = np.concatenate([by_subject[o][:5] for o in subjects if o != s])
            t = time.perf_counter()
            model = IsolationForest(n_estimators=100, random_state=seed).fit(data[:args.train_samples])
            genuine, impostor = model.score_samples(data[200:400]), model.score_samples(impostors)
            model_seconds += time.perf_counter() - t
            eers.append(eer(genuine, impostor))
        seconds = time.perf_counter() - started
        print(f"seed {seed}: mean EER {np.mean(eers):.4f}, evaluation {seconds:.2f} s "
              f"(fit + score_samples alone {model_seconds:.2f} s)")


if __name__ == "__main__":
    main()
