"""Bad input, all of it: every case raises a GllammError (OSError for paths) or warns, with a message that names
the column, option, level or file at fault and says what to do; nothing ends inside numpy, pandas, formulaic or
zipfile. One row per case: (what is wrong, the call, the exception or warning, a pattern the message must match)."""

import io
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

import gllamm
from gllamm import ComputationWarning, DataWarning, GllammError

RNG = np.random.default_rng(2)
G = np.repeat(np.arange(20), 5)
FRAME = pd.DataFrame(dict(y=RNG.integers(0, 2, G.size), x=RNG.normal(size=G.size), g=G, count=RNG.poisson(2, G.size),
                          pos=RNG.gamma(2.0, 1.0, G.size), label=np.where(RNG.uniform(size=G.size) < 0.5, "a", "b"),
                          rating=RNG.integers(1, 4, G.size), y1=RNG.normal(size=G.size), y2=RNG.normal(size=G.size),
                          y3=RNG.normal(size=G.size)))


def fit(model="y ~ x + (1 | g)", data=None, **options):
    options.setdefault("family", "binomial")
    return gllamm.fit(model, FRAME if data is None else data, **options)


def frame(**columns):
    return FRAME.assign(**columns)


def _with_text_values():
    text = FRAME.x.round(2).astype(str)
    text[3] = "."
    return frame(xt=text)


CASES = [
    # ---- data -----------------------------------------------------------------------------------------------
    ("data is a list", lambda: fit(data=[1, 2, 3]), GllammError, "data must be a pandas DataFrame; got list"),
    ("data is None", lambda: gllamm.fit("y ~ x", None), GllammError, "data must be a pandas DataFrame; got NoneType"),
    ("data has no rows", lambda: fit(data=FRAME.iloc[:0]), GllammError, "The data frame has no rows"),
    ("data has no columns", lambda: fit(data=pd.DataFrame(index=range(3))), GllammError, "has no columns"),
    ("duplicate column names", lambda: fit(data=pd.concat([FRAME, FRAME[["x"]]], axis=1)), GllammError,
     "more than one column named 'x'"),
    ("datetime covariate", lambda: fit("y ~ t + (1 | g)", frame(t=pd.date_range("2020-01-01", periods=100))),
     GllammError, "Column 't' used in the model holds dates or times"),
    ("timedelta covariate", lambda: fit("y ~ t + (1 | g)", frame(t=pd.to_timedelta(np.arange(100), "D"))),
     GllammError, "Column 't' used in the model holds dates or times"),
    ("period covariate", lambda: fit("y ~ t + (1 | g)", frame(t=pd.period_range("2020-01", periods=100, freq="M"))),
     GllammError, "Column 't' used in the model holds dates or times"),
    ("datetime indicator in syntax", lambda: gllamm.fit("f =~ y1 + y2 + t", frame(t=pd.date_range("2020", periods=100))),
     GllammError, "Column 't' used in the model holds dates or times"),
    ("text response", lambda: fit("label ~ x + (1 | g)"), GllammError, "Response 'label' is not numeric"),
    ("missing response column", lambda: fit("yy ~ x + (1 | g)"), GllammError, "Column 'yy'.*Did you mean 'y'"),
    ("missing covariate", lambda: fit("y ~ xx + (1 | g)"), GllammError, "Column 'xx'.*Did you mean 'x'"),
    ("missing grouping column", lambda: fit("y ~ x + (1 | gg)"), GllammError, "Grouping column 'gg'.*Did you mean 'g'"),
    ("missing random-slope column", lambda: fit("y ~ x + (1 + z | g)"), GllammError, "Column 'z' used in a random term"),
    ("every row missing", lambda: fit(data=frame(x=np.nan)), GllammError, "No complete rows remain.*x: 100"),
    ("weights column missing", lambda: fit(weights="w"), GllammError, "Column 'w' given as weights="),
    ("weights of text", lambda: fit(data=frame(w="a"), weights="w"), GllammError, "Column 'w' given as weights= is not numeric"),
    ("weights of the wrong length", lambda: fit(weights=np.ones(5)), GllammError, "weights= must be.*one value per row \\(100\\)"),
    ("negative weights", lambda: fit(weights=-np.ones(100)), GllammError, "weights= must be non-negative; 100 rows"),
    ("all-zero weights", lambda: fit(weights=np.zeros(100)), GllammError, "weights= are 0 in every row"),
    ("weights of objects", lambda: fit(weights=[object()] * 100), GllammError, "weights= must be a column name or an array of numbers"),
    ("offset column missing", lambda: fit(offset="off"), GllammError, "Column 'off' given as offset="),
    ("offset of the wrong length", lambda: fit(offset=np.zeros(3)), GllammError, "offset= must be.*one value per row"),
    ("trials column missing", lambda: fit(trials="n"), GllammError, "Column 'n' given as trials="),
    ("trials of text", lambda: fit(data=frame(n="a"), trials="n"), GllammError, "Column 'n' given as trials= is not numeric"),
    ("binomial counts without trials", lambda: fit("count ~ x + (1 | g)"), GllammError, "values above 1 but no number of trials"),
    ("successes above trials", lambda: fit("count ~ x + (1 | g)", frame(n=1), trials="n"), GllammError, "exceeds its number of trials"),
    ("negative counts", lambda: fit("c ~ x + (1 | g)", frame(c=FRAME["count"] - 3), family="poisson"), GllammError,
     "Poisson response 'c' has negative counts"),
    ("gamma response not positive", lambda: fit("x ~ 1 + (1 | g)", family="gamma"), GllammError, "Gamma response 'x' must be strictly positive"),
    ("ordinal response not whole", lambda: fit("x ~ 1 + (1 | g)", family="ordinal"), GllammError, "Ordinal response 'x' has non-integer values"),
    ("cluster weights vary within clusters", lambda: fit(cluster_weights=RNG.uniform(size=100)), GllammError,
     "cluster_weights must be constant within each 'g' cluster"),
    ("level_weights not a mapping", lambda: fit("y ~ x + (1 | g)", level_weights="w"), GllammError, "level_weights= maps grouping factors"),
    # ---- warnings about data ---------------------------------------------------------------------------------
    ("numbers with a '.' among them", lambda: fit("y ~ xt + (1 | g)", _with_text_values()), DataWarning,
     "Column 'xt' used in the model holds numbers and 1 rows of text \\('.'\\).*na_values=\\['.'\\]"),
    ("infinite covariate values", lambda: fit(data=frame(x=np.where(np.arange(100) < 2, np.inf, FRAME.x))), DataWarning,
     "Dropped 2 of 100 rows with missing or non-finite values \\(x: 2\\)"),
    ("missing weights", lambda: fit(weights=np.r_[np.nan, np.ones(99)]), DataWarning, "Dropped 1 of 100 rows.*weights=: 1"),
    ("missing offsets", lambda: fit(offset=np.r_[np.nan, np.zeros(99)]), DataWarning, "Dropped 1 of 100 rows.*offset=: 1"),
    # ---- the model -------------------------------------------------------------------------------------------
    ("model is None", lambda: fit(None), GllammError, "model must be a formula"),
    ("model is empty", lambda: fit("   "), GllammError, "model must be a formula"),
    ("model is a number", lambda: fit(3), GllammError, "model must be a formula"),
    ("formula without '~'", lambda: fit("y x"), GllammError, "needs a response and '~'"),
    ("nothing after '~'", lambda: fit("y ~ "), GllammError, "nothing after '~'"),
    ("nothing before '~'", lambda: fit("~ x"), GllammError, "no response before '~'"),
    ("unbalanced ')'", lambda: fit("y ~ x) + (1 | g)"), GllammError, "Unbalanced '\\)'"),
    ("missing ')'", lambda: fit("y ~ x + (1 | g"), GllammError, "Missing '\\)'"),
    ("random term without group", lambda: fit("y ~ x + (1 | )"), GllammError, "needs '\\(terms \\| group\\)'"),
    ("subtracted random term", lambda: fit("y ~ x - (1 | g)"), GllammError, "cannot be subtracted"),
    ("empty term", lambda: fit("y ~ x + + (1 | g)"), GllammError, "Empty term"),
    ("a call of an unknown function", lambda: fit("y ~ I(open('f')) + (1 | g)"), GllammError, "'open\\(...\\)' is not an allowed function"),
    ("an import in a formula", lambda: fit("y ~ I(__import__('os').getcwd()) + (1 | g)"), GllammError, "is not an allowed function"),
    ("attribute access in a formula", lambda: fit("y ~ I(x.__class__) + (1 | g)"), GllammError, "'x.__class__' is not an allowed"),
    ("a lambda in a formula", lambda: fit("y ~ {(lambda: 1)()} + (1 | g)"), GllammError, "(only named functions may be called|'Lambda' expressions are not allowed)"),
    ("a subscript in a formula", lambda: fit("y ~ I(x[0]) + (1 | g)"), GllammError, "'Subscript' expressions are not allowed"),
    ("numpy I/O in a formula", lambda: fit("y ~ I(np.load('f')) + (1 | g)"), GllammError, "'np.load' is not an allowed function"),
    ("collinear covariates", lambda: fit("y ~ x + x2 + (1 | g)", frame(x2=2 * FRAME.x)), GllammError, "rank deficient: x2"),
    ("a grouping factor with one level", lambda: fit("y ~ x + (1 | one)", frame(one=1)), GllammError, "'one' has 1 level"),
    ("syntax with an empty term", lambda: gllamm.fit("f =~ ", FRAME), GllammError, "Empty term \\(line 1\\)"),
    ("syntax with an unknown operator", lambda: gllamm.fit("f =~ y1 + y2 + y3\nf >< x", FRAME), GllammError,
     "Expected one of =~, ~ or ~~ \\(line 2\\)"),
    ("syntax naming an absent indicator", lambda: gllamm.fit("f =~ a + y2 + y3", FRAME), GllammError,
     "'a' in line 1 .* is neither a latent variable nor a column"),
    ("level: 2 block without cluster=", lambda: gllamm.fit("level: 1\nf =~ y1 + y2 + y3\nlevel: 2\nh =~ y1 + y2 + y3", FRAME),
     GllammError, "give the cluster column, e.g. cluster="),
    ("cluster= without level blocks", lambda: gllamm.fit("f =~ y1 + y2 + y3", FRAME, cluster="g"), GllammError,
     "cluster= needs 'level: 1' and 'level: 2' blocks"),
    ("cluster= with a formula", lambda: fit(cluster="g"), GllammError, "cluster= and long= are for model syntax"),
    ("long= without its keys", lambda: gllamm.fit("f =~ y1 + y2 + y3", FRAME, long={"unit": "g"}), GllammError,
     "long= needs the keys unit, item and response"),
    ("top_weights= with syntax", lambda: gllamm.fit("f =~ y1 + y2 + y3", FRAME, top_weights="x"), GllammError,
     "top_weights= is not available with model syntax"),
    # ---- options -----------------------------------------------------------------------------------------------
    ("misspelt family", lambda: fit(family="binomail"), GllammError, "Unknown family 'binomail'.*Did you mean 'binomial'"),
    ("family as a number", lambda: fit(family=3), GllammError, "Unknown family '3'"),
    ("misspelt link", lambda: fit(link="logt"), GllammError, "Unknown link 'logt'.*Did you mean 'logit'"),
    ("a link the family does not have", lambda: fit("count ~ x + (1 | g)", family="poisson", link="probit"), GllammError,
     "Link 'probit' is not available for family 'poisson'"),
    ("misspelt method", lambda: fit(method="adaptiv"), GllammError, "Unknown method 'adaptiv'.*Did you mean 'adaptive'"),
    ("misspelt option", lambda: fit(nipp=5), GllammError, "Unknown option 'nipp'.*Did you mean 'nip'"),
    ("nip of 0", lambda: fit(nip=0), GllammError, "nip must be a positive whole number"),
    ("nip as text", lambda: fit(nip="8"), GllammError, "nip must be a positive whole number.*'8'"),
    ("nip negative", lambda: fit(nip=-2), GllammError, "nip must be a positive whole number"),
    ("negative tol", lambda: fit(tol=-1), GllammError, "tol must be a positive number"),
    ("tol as text", lambda: fit(tol="small"), GllammError, "tol must be a positive number"),
    ("negative max_iter", lambda: fit(max_iter=-3), GllammError, "max_iter must be a whole number >= 0"),
    ("fractional max_iter", lambda: fit(max_iter=2.5), GllammError, "max_iter must be a whole number >= 0"),
    ("seed as text", lambda: fit(classes=2, seed="a"), GllammError, "seed must be a whole number"),
    ("misspelt information", lambda: fit(information="obs"), GllammError, "Unknown information 'obs'.*Did you mean 'observed'"),
    ("factor_scale unknown", lambda: gllamm.fit("f =~ y1 + y2 + y3", FRAME, factor_scale="unit"), GllammError,
     "factor_scale must be 'loading'.*or 'variance'"),
    ("fix an unknown parameter", lambda: fit(fix={"xx": 1}), GllammError, "Cannot constrain 'xx'.*Did you mean 'x'"),
    ("equal with an unknown parameter", lambda: fit(equal=[("x", "zz")]), GllammError, "Cannot constrain 'zz'"),
    ("start of the wrong length", lambda: fit(start=[0.0, 1.0]), GllammError, "start has 2 values; this model has 3"),
    ("classes of 0", lambda: fit(classes=0), GllammError, "classes must be a whole number of latent classes"),
    ("classes as a word", lambda: fit(classes="two"), GllammError, "classes must be a number of classes or 'npml'"),
    ("starts of 0", lambda: fit(classes=2, starts=0), GllammError, "starts must be a positive whole number"),
    ("concomitant= without classes", lambda: fit(concomitant="~ x"), GllammError, "concomitant= is for models with latent classes"),
    ("known_class= without classes", lambda: fit(known_class="g"), GllammError, "known_class= is for models with latent classes"),
    ("nominal= with a binary family", lambda: fit(nominal="~ x"), GllammError, "nominal= gives covariates of the thresholds"),
    ("scale= two-sided", lambda: fit(scale="y ~ x"), GllammError, "scale= takes a one-sided formula"),
    ("choice_set= without multinomial", lambda: fit(choice_set="g"), GllammError, "choice_set= is for discrete choice"),
    ("a family mapping without family_by", lambda: fit(family={"a": "gaussian"}), GllammError, "say which column holds the response"),
    ("family_by= without a mapping", lambda: fit(family_by="label"), GllammError, "family_by= needs family= as a mapping"),
    ("link= beside a family mapping", lambda: fit(family={"a": "gaussian"}, link="log"), GllammError,
     "give each response's link inside it"),
    ("scale_weights unknown", lambda: fit(weights=np.ones(100), scale_weights="sizes"), GllammError,
     "Unknown scale_weights 'sizes'"),
    ("ghq with nested levels", lambda: fit("y ~ x + (1 | g) + (1 | h)", frame(h=G // 5), method="ghq"), GllammError,
     "method='ghq' is not available for models with nested levels"),
    ("devices of 0", lambda: fit(devices=0), GllammError, "devices must be a positive integer"),
    ("chunk_size of 0", lambda: fit(chunk_size=0), GllammError, "chunk_size must be a positive number of rows"),
    ("a loading written twice", lambda: fit("f =~ y1 + y2 + y2", family="gaussian"), GllammError,
     "'f =~ y2' is already in the model \\(the same line\\)"),
    ("a variance on two lines", lambda: fit("f =~ y1 + y2 + y3\ny1 ~~ y1\ny1 ~~ y1", family="gaussian"), GllammError,
     "'y1 ~~ y1' is already in the model \\(line 2\\)"),
    ("start= with a NaN", lambda: fit("y ~ x", start=[0.0, np.nan]), GllammError, "start has no value \\(NaN\\) for x"),
    ("compare() given a number", lambda: gllamm.compare(3), GllammError, "Fit 1 given to compare\\(\\)/anova\\(\\) is a int"),
    ("fix= at NaN", lambda: fit(fix={"x": np.nan}), GllammError, "fix=\\{'x': nan\\}: a parameter is fixed at a finite"),
    ("fix= at text", lambda: fit(fix={"x": "a"}), GllammError, "fix=\\{'x': 'a'\\}: a parameter is fixed at a finite"),
    ("a costly quadrature rule", lambda: fit("y ~ x + (1 + x + pos | g)", nip=40, start=[0.0]), ComputationWarning,
     "integrates over 64,000 quadrature nodes.*40 points in each of 3 dimensions"),
    # ---- responses that cannot be fitted ----------------------------------------------------------------------
    ("a binary response that is always 0", lambda: fit(data=frame(y=0)), GllammError, "The response 'y' is 0 \\(no successes\\)"),
    ("a constant Gaussian response", lambda: fit(data=frame(y=1.5), family="gaussian"), GllammError,
     "The response 'y' has the same value \\(1.5\\)"),
    ("counts that are all 0", lambda: fit("c ~ x + (1 | g)", frame(c=0), family="poisson"), GllammError,
     "The response 'c' is 0 in every one"),
    ("a separating covariate", lambda: fit(data=frame(y=(FRAME.x > 0).astype(int))), GllammError,
     "separate the response 'y': a combination of 'x'"),
    ("binary responses in clusters of one", lambda: fit("y ~ x + (1 | id)", frame(id=np.arange(100))), GllammError,
     "Every unit of 'id' has a single binomial response"),
    # ---- datasets and saved files -------------------------------------------------------------------------------
    ("misspelt dataset", lambda: gllamm.datasets.load("sleepstdy"), GllammError, "No bundled dataset 'sleepstdy'.*Did you mean"),
    ("load a file that is not there", lambda: gllamm.load("/nonexistent/fit.gllamm"), FileNotFoundError, "No saved result at"),
]


@pytest.mark.parametrize("what, call, expected, pattern", CASES, ids=[case[0] for case in CASES])
def test_bad_input(what, call, expected, pattern):
    if issubclass(expected, Warning):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("always", expected)
            with pytest.warns(expected, match=pattern):
                try:
                    call()
                except GllammError:
                    pass
    else:
        with pytest.raises(expected, match=pattern):
            call()


def test_the_suite_covers_at_least_80_cases():
    assert len(CASES) >= 80


def test_saved_files_that_are_not_results(tmp_path):
    empty = tmp_path / "empty.gllamm"
    empty.write_bytes(b"")
    with pytest.raises(GllammError, match="empty.gllamm is not a gllamm result"):
        gllamm.load(empty)
    folder = tmp_path / "folder.gllamm"
    folder.mkdir()
    with pytest.raises(FileNotFoundError, match="No saved result at .*folder.gllamm"):
        gllamm.load(folder)
    archive = tmp_path / "other.gllamm"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("meta.json", "{}")
        z.writestr("model_frame.json", "{}")
        z.writestr("arrays.npz", b"")
    with pytest.raises(GllammError, match="other.gllamm is damaged"):
        gllamm.load(archive)


def test_predictions_for_bad_new_data():
    data = FRAME.assign(c=np.tile(list("abcd"), 25))
    result = gllamm.fit("y1 ~ x + c + (1 | g)", data)
    with pytest.raises(GllammError, match="newdata column 'c' has the level\\(s\\) 'z'"):
        result.predict(pd.DataFrame(dict(x=[0.0, 1.0], c=["a", "z"], g=[1, 2])))
    with pytest.raises(GllammError, match="newdata lacks the column\\(s\\) 'x' that the model uses"):
        result.predict(pd.DataFrame(dict(c=["a"], g=[1])))
    for level in (2, "95%", 0):
        with pytest.raises(GllammError, match="level must be a number between 0 and 1"):
            result.conf_int(level=level)
    with pytest.raises(GllammError, match="statistic must be a function.*n_boot="):
        result.bootstrap(10)
    with pytest.raises(GllammError, match="seed must be a non-negative whole number.*got 'a'"):
        result.simulate(seed="a")
    with pytest.raises(GllammError, match="newdata must be a pandas DataFrame; got dict"):
        result.predict({"x": [1.0]})
    with pytest.raises(GllammError, match="Unknown type 'means'.*Did you mean 'mean'"):
        result.predict(type="means")
    with pytest.raises(GllammError, match="Unknown latent 'ebb'.*Did you mean 'eb'"):
        result.predict(latent="ebb")
    new = pd.DataFrame(dict(x=[0.5, np.nan, 1.5], c=["a", "b", None], g=[1, 2, 3]))
    predicted = result.predict(new)
    assert np.isfinite(predicted[0]) and np.isnan(predicted[1]) and np.isnan(predicted[2])
    assert predicted[0] == pytest.approx(result.predict(new.iloc[[0]])[0], rel=1e-12)
