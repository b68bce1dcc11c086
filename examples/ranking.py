"""Rankings: voters rank four parties (exploded logit with constituency effects and partial rankings).

Each voter ranks parties A-D (1 = most preferred). The ranking is modelled as a sequence of
choices (the exploded or rank-ordered logit, Plackett-Luce): the first choice among all four,
the second among the remaining three, and so on, each a conditional logit with utility

    eta_ia = alpha_a + beta distance_ia + gamma female_i [a = D] + u_ja,

(party dummies partyB-partyD in the data carry the random effects), where distance_ia is the distance between voter i's left-right position and party a's (an
alternative-specific covariate), alpha_a are party constants (A the reference), gamma a
party-specific effect of a voter covariate, and u_ja constituency-level random effects of the
parties B-D (alternative-specific, independent here), shared by the voters of constituency j.
A third of the voters rank only their top two parties (partial rankings: the other parties'
ranks are missing). Long data: one row per voter and party, the ranking set given by
choice_set="voter". Data are simulated with a fixed seed; run:  python examples/ranking.py
"""

import numpy as np
import pandas as pd

import gllamm

PARTIES = ["A", "B", "C", "D"]
POSITIONS = {"A": -1.5, "B": -0.3, "C": 0.6, "D": 1.8}
TRUTH = {"C(party)[T.B]": 0.4, "C(party)[T.C]": 0.1, "C(party)[T.D]": -0.5, "distance": -0.9,
         "female:partyD": 0.6, "var(partyB|constituency)": 0.3,
         "var(partyC|constituency)": 0.5, "var(partyD|constituency)": 0.4}
MODEL = "rank ~ C(party) + distance + female:partyD + (0 + partyB + partyC + partyD || constituency)"


def simulate(constituencies: int = 80, voters: int = 15, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    effects = rng.normal(size=(constituencies, 3)) * np.sqrt(
        [TRUTH[f"var(party{p}|constituency)"] for p in "BCD"])
    for j in range(constituencies):
        for v in range(voters):
            position, female = rng.normal(0, 1.2), rng.binomial(1, 0.5)
            distance = np.array([abs(position - POSITIONS[p]) for p in PARTIES])
            eta = (np.r_[0.0, [TRUTH[f"C(party)[T.{p}]"] for p in "BCD"]] + TRUTH["distance"] * distance
                   + np.r_[0, effects[j]])
            eta[3] += TRUTH["female:partyD"] * female
            order = np.argsort(-(eta + rng.gumbel(size=4)))  # an exploded-logit ranking
            rank = np.empty(4)
            rank[order] = np.arange(1, 5)
            if rng.uniform() < 1 / 3:
                rank[rank > 2] = np.nan  # only the top two given
            for a, party in enumerate(PARTIES):
                rows.append(dict(voter=f"{j}-{v}", constituency=j, party=party, distance=distance[a],
                                 female=female, rank=rank[a], **{f"party{p}": float(party == p) for p in "BCD"}))
    return pd.DataFrame(rows)


def main():
    data = simulate()
    result = gllamm.fit(MODEL, data, family="multinomial", choice_set="voter")
    print(result.summary())
    first = result.predict(type="probability", latent="marginal")
    shares = pd.Series(first, index=data.party).groupby(level=0).mean()
    observed = data.assign(first=data["rank"] == 1).groupby("party")["first"].mean()
    print("\nFirst-choice shares, predicted (marginal) vs observed:")
    print(pd.DataFrame({"predicted": shares, "observed": observed}).round(3).to_string())
    return result


if __name__ == "__main__":
    main()
