"""Diagnosis (no timing): how the model-level term of a `local` profile moves the timm errors.

Refits a first-use `local` calibration journal with variants of the model-level term and
predicts the 12 timm models of ``latency_timm.py`` against their stored measurements:

    python -m benchmarks.latency_timm_modellevel JOURNAL.jsonl PROFILE.json

(the journal and profile of the `local` target the timm benchmark used, e.g. under the
``LOWFORMER_NAS_CACHE`` it ran with). Prints in-space leave-one-out accuracy and the timm
errors per variant, and the errors of the bare kernel sums.
"""
import json
import statistics
import sys
from lowformer_nas.latency.fitting import predictor as P
from lowformer_nas.latency.fitting.fit import fit_params
from lowformer_nas.latency.tracing.trace import trace_kernels
import timm

J, PROFILE = sys.argv[1], sys.argv[2]
lines = [json.loads(line) for line in open(J)]
header = lines[0]
krecs = [r for r in lines if r.get('kind') == 'kernel']
mrecs = [r for r in lines if r.get('kind') == 'model']
prof = json.load(open(PROFILE))
roof = prof['params']['roofline']
TIMM = __import__("pathlib").Path(__file__).resolve().parent / "results" / "latency_timm.json"
meas = {m: statistics.median(v) for m, v in json.load(open(TIMM))["rounds"].items()}
traces = {m: trace_kernels(timm.create_model(m, pretrained=False).eval(), (1, 3, 224, 224)) for m in meas}
orig = P.fit_model_level

def run(label, **kw):
    def patched(*a, **k):
        k.update(kw)
        return orig(*a, **k)
    P.fit_model_level = patched
    params, err = fit_params(krecs, mrecs, roof)
    P.fit_model_level = orig
    pr = P.Predictor(params)
    errs = {m: pr.predict_kernel_list(traces[m]) / meas[m] - 1 for m in meas}
    hit = sum(abs(e) <= 0.15 for e in errs.values())
    print(f"{label}: in-space LOO within10 {err['within10_pct']:.1f}% mape {err['mape_pct']:.1f}; timm within15 {hit}/12 model={ {k: (round(v,3) if isinstance(v,float) else v) for k,v in params['model'].items()} }")
    print("   ", " ".join(f"{m[:10]}:{e:+.0%}" for m, e in errs.items()))

print(len(krecs), "kernels,", len(mrecs), "whole models")
base, _ = fit_params(krecs, mrecs, roof)
sums = {m: float(P.Predictor(base).kernel_ms(traces[m]).sum()) / meas[m] - 1 for m in meas}
print(f"bare kernel sums: timm within15 {sum(abs(e) <= 0.15 for e in sums.values())}/12")
print("   ", " ".join(f"{m[:10]}:{e:+.0%}" for m, e in sums.items()))
run("as is")
run("no counts", use_counts=False)
run("one scale", per_group=False)
run("one scale no counts", per_group=False, use_counts=False)
