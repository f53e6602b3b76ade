"""Round anomaly7 seen-data check (models/ANOMALY.md "Round anomaly7", card/round7-check.json): leave one normal set out
of the set-balanced calibration (calibrate.py calibrate_balanced / _geometric / _extremes) of round anomaly6's candidate
autoencoders and measure it; detection on the attack labs at the all-sets threshold. Reads the sensor's scored databases
under /work/data/anomaly/build8 and build9 (not in git). CALDB=1: the calibration runs scored in their own sensor pass.
METHOD=mean|geo|ext. Usage: CALDB=1 METHOD=mean python3 round7_check.py OUT.json"""
import json
import os
import sqlite3
import sys

import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calibrate as C
B8='/work/data/anomaly/build8'; D='/work/data/anomaly/build9/poolA'
def dbflows(db):
    con=sqlite3.connect(f"file:{db}?mode=ro",uri=True)
    r=con.execute("SELECT anomaly_score, pcap_filename FROM flows WHERE end_reason!='active' AND anomaly_score IS NOT NULL").fetchall()
    return np.array([x[0] for x in r]), np.array([x[1] for x in r])
g=np.fromfile(D+'/groups.i32',dtype='<i4'); s=np.fromfile(D+'/scores.f64'); cal=np.load(D+'/cal.npy')
pc=np.array([l.rstrip('\n').split('\t')[4] for l in open(D+'/rows.tsv')])
roots={'b1':'/work/data/anomaly/fresh/','b23':'/work/data/anomaly/fresh-untouched/','b4':'/work/data/anomaly/fresh4/','b5':'/work/data/anomaly/fresh5/'}
cal_sets={}; meas={}
if os.environ.get('CALDB'):
    s,pc=dbflows('/work/data/anomaly/build9/cal-runs.db'); cal=np.ones(len(s),bool)
m=cal & np.char.startswith(pc,'/work/data/lab/'); cal_sets['pool']=(s[m],pc[m]); meas['pool']=(s[m],pc[m])
for k,r in roots.items():
    bs,bp=dbflows(f'{B8}/ev-candA2/eval-B{k}.db')
    m=cal & np.char.startswith(pc,r)
    cal_sets[k]=(np.concatenate([s[m],bs]),np.concatenate([pc[m],bp])); meas[k]=(bs,bp)
for k in ('fresh6','fresh7'):
    cal_sets[k]=meas[k]=dbflows(f'{B8}/s6-candidate/eval-{k}.db')
test=dbflows(f'{B8}/ev-candA2/eval-heldout.db')
OLD=0.6976504325866699
METHOD=os.environ.get('METHOD','mean')
def thr(names, rate=0.01, how=None):
    how = how or METHOD
    sc=np.concatenate([cal_sets[n][0] for n in names]); runs=np.concatenate([cal_sets[n][1] for n in names])
    sets=np.concatenate([[n]*len(cal_sets[n][0]) for n in names])
    return {"geo":C.calibrate_geometric,"ext":C.calibrate_extremes}.get(how,C.calibrate_balanced)(sc, sets, runs, [rate])[C.rate_key(rate)]
def share(x,t): return float((x[0]>t).mean())
band=lambda v: 0.0067<=v<=0.015
out={'old_threshold':OLD,'loso':{},'sets':{k:{'calibration_flows':len(v[0]),'calibration_runs':len(set(v[1])),'measured_flows':len(meas[k][0])} for k,v in cal_sets.items()}}
for S in cal_sets:
    t=thr([n for n in cal_sets if n!=S])
    out['loso'][S]={'threshold':t,'new':share(meas[S],t),'old':share(meas[S],OLD)}
tall=thr(list(cal_sets)); out['threshold_all_sets']=tall
out['test_runs']={'flows':len(test[0]),'new':share(test,tall),'old':share(test,OLD)}
out['in_sample']={k:{'new':share(meas[k],tall),'old':share(meas[k],OLD)} for k in meas}
out['in_band_loso']={'new':sum(band(v['new']) for v in out['loso'].values()),'old':sum(band(v['old']) for v in out['loso'].values()),'sets':len(out['loso'])}
# attack detection at each threshold
import importlib; build=importlib.import_module('build')
det={}
for lab,dd,ev in [(f'a{i}',f'/work/data/anomaly/lab/a{i}',f'{B8}/ev-candA2') for i in range(1,7)]+[('a7','/work/data/anomaly/sealed6/a7',f'{B8}/s6-candidate')]:
    for sc in ('scan','synflood','bruteforce-ssh','bruteforce-http','slowloris'):
        db=f'{ev}/eval-{lab}-{sc}.db'
        if not os.path.exists(db): continue
        cond,params=build.truth_sql(json.load(open(f'{dd}/{sc}.json'))['attack'])
        con=sqlite3.connect(f"file:{db}?mode=ro",uri=True)
        a=np.array([r[0] for r in con.execute(f"SELECT anomaly_score FROM flows WHERE end_reason!='active' AND {cond}",params)])
        grp='a1-a5' if lab<='a5' else lab
        d=det.setdefault(grp,{}).setdefault(sc,[0,0,0]); d[0]+=len(a); d[1]+=int((a>tall).sum()); d[2]+=int((a>OLD).sum())
out['detection']={g:{sc:{'flows':v[0],'new':round(v[1]/v[0],4),'old':round(v[2]/v[0],4)} for sc,v in d.items()} for g,d in det.items()}
json.dump(out,open(sys.argv[1] if len(sys.argv)>1 else '/work/data/anomaly/build9/round7-check.json','w'),indent=1)
for S,v in out['loso'].items(): print(f"LOSO {S:7s} t={v['threshold']:.4f} new {100*v['new']:.2f}% old {100*v['old']:.2f}%")
print('all-sets threshold', tall, 'test new %.2f%% old %.2f%%'%(100*out['test_runs']['new'],100*out['test_runs']['old']))
print('in band (LOSO)', out['in_band_loso'])
for g,d in out['detection'].items(): print(g, {k:(v['new'],v['old']) for k,v in d.items()})
