"""Round anomaly9 seen-data check (models/ANOMALY.md "Round anomaly9", card/round9-check.json): variants of fit.py's
ensemble fitted on round anomaly6/7's fitting rows (build9/poolA: the sensor's export of the fitting pool plus half of
lab batches 1-5), each scored on every seen normal set and attack lab in Python (the same graph the sensor runs: the
exported candidate's scores match to 5e-7), calibrated as round anomaly7 (calibrate.py calibrate_balanced, every set
weighing the same), and measured: leave one set out of nine; batches 6-9 left out together (calibrated on the pool and
batches 1-5, as new batches will be); the test runs; fresh-like batches drawn from the seen batches' measured runs
(two runs of every class); detection on a1-a8. Needs the feature exports under /work/data/anomaly (not in git).
Usage: python3 round9_check.py OUT.json [CANDIDATE_THRESHOLD]  (fits the variants not already in $WORK/*.pt)"""
import collections
import itertools
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calibrate as C  # noqa: E402
import fit as F  # noqa: E402

torch.set_num_threads(1)
A = '/work/data/anomaly'
D8 = A + '/build8/diagA'
WORK = os.environ.get('WORK', A + '/build11')
X = WORK + '/x'
VARIANTS = [  # tag, fit_ensemble options (context floor 0.975 in every one, as round anomaly7's candidate)
    ('base', {}), ('bases2', {'seed': 2}),
    ('sf007', {'std_floor': 0.07}), ('sf01', {'std_floor': 0.1}), ('sf015', {'std_floor': 0.15}),
    ('sf015s2', {'std_floor': 0.15, 'seed': 2}), ('sf02', {'std_floor': 0.2}),
    ('aug0.1', {'augment': 0.1}), ('aug0.3', {'augment': 0.3}),
    ('sf015aug01', {'std_floor': 0.15, 'augment': 0.1}),
    ('sf015aug03', {'std_floor': 0.15, 'augment': 0.3}), ('sf015aug03s2', {'std_floor': 0.15, 'augment': 0.3, 'seed': 2}),
]
CANDIDATE = 'sf015aug03'
LATE = ['fresh6', 'fresh7', 'fresh8', 'fresh9']
def load(d):
    m=json.load(open(d+'/features.json')); x=np.fromfile(d+'/features.f32','<f4').reshape(m['rows'],m['width'])
    pc=np.array([l.rstrip('\n').split('\t')[4] for l in open(d+'/rows.tsv')])
    cl=np.array([l.split('\t')[1] for l in open(d+'/rows.tsv')]); sv=np.array([l.split('\t')[2] for l in open(d+'/rows.tsv')])
    return m,x,pc,cl,sv
mP,xP,pcP,_,_=load(A+'/build9/poolA'); cal=np.load(A+'/build9/poolA/cal.npy'); L=30; counters=mP['counters']
roots={'b1':A+'/fresh/','b23':A+'/fresh-untouched/','b4':A+'/fresh4/','b5':A+'/fresh5/'}
sets={}  # name -> (x, runs) measured rows; cal_extra name -> rows of poolA cal
m=cal & np.char.startswith(pcP,'/work/data/lab/'); sets['pool']=(xP[m],pcP[m]); calx={'pool':(xP[m][:0],pcP[m][:0])}
for k,r in roots.items():
    _,xb,pb,_,_=load(D8+'/'+k); sets[k]=(xb,pb); mm=cal & np.char.startswith(pcP,r); calx[k]=(xP[mm],pcP[mm])
for k in ('fresh6','fresh7','fresh8','fresh9'):
    _,xb,pb,_,_=load(X+'/'+k); sets[k]=(xb,pb); calx[k]=(xb[:0],pb[:0])
_,xT,pT,_,_=load(D8+'/test'); test=(xT,pT)
build=__import__('build')
att={}
for i in range(1,9):
    lab=f'a{i}'; dd=A+('/lab/' if i<=6 else '/sealed6/' if i==7 else '/sealed7/')+lab
    for sc in ('scan','synflood','bruteforce-ssh','bruteforce-http','slowloris'):
        p=(D8 if i<=6 and sc!='slowloris' else X)+f'/{lab}-{sc}'
        if not os.path.exists(p): continue
        _,xa,pa,ca,sa=load(p); t=json.load(open(f'{dd}/{sc}.json'))['attack']
        mk=np.isin(ca,t['client_ip']) & (np.isin(sa,t['server_ip']) if 'server_ip' in t else True)
        att[(lab,sc)]=xa[mk]
def fitv(seed=1, floor=0.975, **kw):
    fit_rows=np.flatnonzero(~cal)
    model,oob=F.fit_ensemble(xP[fit_rows].astype(np.float64), L, counters, seed=seed, ctx_floor_quantile=floor, log=lambda s: print(s, file=sys.stderr, flush=True), **kw)
    return model
def score(model,x):
    with torch.no_grad(): return model(torch.tensor(np.asarray(x),dtype=torch.float32)).numpy().astype(np.float64)
def parts(model,x):
    with torch.no_grad():
        z=model.t(torch.tensor(np.asarray(x),dtype=torch.float32))
        p=torch.stack([model.parts_of(k,z) for k in range(len(model.aes))]).mean(0)
        return torch.relu(p-model.floor).numpy()
def evaluate(model, tag, out=None):
    """Leave one set out of nine (calibrate_balanced on the other eight), the all-sets threshold, test runs, detection."""
    S={k:score(model,v[0]) for k,v in sets.items()}; SC={k:score(model,v[0]) for k,v in calx.items()}
    cs={k:(np.concatenate([SC[k],S[k]]),np.concatenate([calx[k][1],sets[k][1]])) for k in sets}
    def thr(names):
        sc=np.concatenate([cs[n][0] for n in names]); ru=np.concatenate([cs[n][1] for n in names]); st=np.concatenate([[n]*len(cs[n][0]) for n in names])
        return C.calibrate_balanced(sc,st,ru,[0.01])['0.01']
    band=lambda v: 0.0067<=v<=0.015
    res={'tag':tag,'loso':{}}
    for s in sets:
        t=thr([n for n in sets if n!=s]); res['loso'][s]={'threshold':t,'share':float((S[s]>t).mean()),'flagged':int((S[s]>t).sum()),'flows':len(S[s])}
    tall=thr(list(sets)); res['threshold']=tall
    st=score(model,test[0]); res['test']=float((st>tall).mean())
    res['in_band']=sum(band(v['share']) for v in res['loso'].values())
    # fresh-like batches: 4 random fresh batches pooled vs each
    det=collections.defaultdict(lambda:[0,0])
    for (lab,sc),xa in att.items():
        g='a1-a5' if lab<='a5' else lab; a=score(model,xa); det[(g,sc)][0]+=len(a); det[(g,sc)][1]+=int((a>tall).sum())
    res['det']={f'{g}/{sc}':round(v[1]/v[0],3) for (g,sc),v in det.items()}
    print(tag,'thr %.4f test %.2f%%'%(tall,100*res['test']),'in band',res['in_band'],'/',len(sets),' '.join(f"{k}:{100*v['share']:.2f}" for k,v in res['loso'].items()))
    print('  det', ' '.join(f'{k}={v}' for k,v in sorted(res['det'].items()) if 'slow' not in k))
    print('  slow', ' '.join(f'{k}={v}' for k,v in sorted(res['det'].items()) if 'slow' in k))
    if out: json.dump(res,open(out,'w'),indent=1)
    return res,S
def batches(model, T, draws=400, seed=3):
    """Fresh-like batches drawn from the seen fresh batches' measured runs (2 runs of every class): share in band."""
    xs=np.concatenate([sets[k][0] for k in sets if k!='pool']); rs=np.concatenate([sets[k][1] for k in sets if k!='pool'])
    f=score(model,xs)>T
    runs=sorted(set(rs)); idx={r:np.flatnonzero(rs==r) for r in runs}
    bycls=collections.defaultdict(list)
    for r in runs: bycls[r.split('/')[-2]].append(r)
    rng=np.random.default_rng(seed); sh=[]
    for _ in range(draws):
        n=k=0
        for c,rr in bycls.items():
            for r in rng.choice(rr,min(2,len(rr)),replace=False): n+=len(idx[r]); k+=int(f[idx[r]].sum())
        sh.append(k/n)
    sh=np.array(sh); fl=f.sum(); top=sorted(((int(f[idx[r]].sum()),r) for r in runs),reverse=True)
    blk=sum(a for a,r in top if a>=3)
    return {'in_band':float(((sh>=0.0067)&(sh<=0.015)).mean()),'q10_50_90':[float(np.quantile(sh,q)) for q in (0.1,0.5,0.9)],'flagged':int(fl),'in_blocks_of_3':int(blk),'runs_flagged':int(sum(1 for a,r in top if a>0))}


def late_check(model):
    """Batches 6-9 left out together (threshold from the pool and batches 1-5) and each pair of them left out."""
    S = {k: score(model, v[0]) for k, v in sets.items()}
    SC = {k: score(model, v[0]) for k, v in calx.items()}
    cs = {k: (np.concatenate([SC[k], S[k]]), np.concatenate([calx[k][1], sets[k][1]])) for k in sets}

    def thr(names):
        sc = np.concatenate([cs[n][0] for n in names]); ru = np.concatenate([cs[n][1] for n in names])
        st = np.concatenate([[n] * len(cs[n][0]) for n in names])
        return C.calibrate_balanced(sc, st, ru, [0.01])['0.01']
    st = score(model, test[0])
    t = thr([n for n in sets if n not in LATE]); pooled = np.concatenate([S[k] for k in LATE])
    out = {'threshold': t, 'pooled_late': float((pooled > t).mean()), 'each_late': {k: float((S[k] > t).mean()) for k in LATE},
           'test': float((st > t).mean())}
    out['late_pairs_pooled'] = {}
    for a, b in itertools.combinations(LATE, 2):
        t2 = thr([n for n in sets if n not in (a, b)]); p = np.concatenate([S[a], S[b]])
        out['late_pairs_pooled'][f'{a}+{b}'] = float((p > t2).mean())
    return out


def detection_at(model, T):
    det = collections.defaultdict(lambda: [0, 0])
    for (lab, sc), xa in att.items():
        g = 'a1-a5' if lab <= 'a5' else lab; a = score(model, xa); det[(g, sc)][0] += len(a); det[(g, sc)][1] += int((a > T).sum())
    return {f'{g}/{sc}': {'flows': v[0], 'flagged': v[1], 'detection': round(v[1] / v[0], 4)} for (g, sc), v in det.items()}


if __name__ == '__main__':
    res = {'variants': {}}
    for tag, kw in VARIANTS:
        p = f'{WORK}/{tag}.pt'
        if os.path.exists(p):
            m = torch.load(p, weights_only=False)
        else:
            kw = dict(kw); floor = kw.pop('floor', 0.975)
            m = fitv(floor=floor, **kw); torch.save(m, p)
        r, _ = evaluate(m, tag)
        r['options'] = dict(kw, context_floor_quantile=0.975)
        r['late'] = late_check(m)
        r['fresh_like_batches'] = batches(m, r['threshold'])
        res['variants'][tag] = r
    if len(sys.argv) > 2:
        m = torch.load(f'{WORK}/{CANDIDATE}.pt', weights_only=False); T = float(sys.argv[2])
        st = score(m, test[0])
        res['candidate'] = {'variant': CANDIDATE, 'threshold': T, 'test': float((st > T).mean()), 'test_flagged': int((st > T).sum()),
                            'test_flows': len(st), 'sets': {k: float((score(m, v[0]) > T).mean()) for k, v in sets.items()},
                            'detection': detection_at(m, T)}
    json.dump(res, open(sys.argv[1], 'w'), indent=1)
