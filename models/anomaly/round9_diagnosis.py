"""Round anomaly9 diagnosis (card/round9-diagnosis.json): the runs with 3 or more flagged flows and what carries them.
  python3 round9_diagnosis.py bundled                      # the sensor's flags of the bundled model (evaluation databases)
  python3 round9_diagnosis.py MODEL.pt THRESHOLD OUT.json  # a round9_check.py variant: parts and top features per block"""
import sys, os, json, collections, sqlite3
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if sys.argv[1] == "bundled":
    A='/work/data/anomaly'
    dbs={'test':A+'/build8/ev-bundled/eval-heldout.db','b1':A+'/build8/ev-bundled/eval-Bb1.db','b23':A+'/build8/ev-bundled/eval-Bb23.db','b4':A+'/build8/ev-bundled/eval-Bb4.db','b5':A+'/build8/ev-bundled/eval-Bb5.db',
     'fresh6':A+'/build8/s6-bundled/eval-fresh6.db','fresh7':A+'/build8/s6-bundled/eval-fresh7.db','fresh8':A+'/build9/s7-bundled/eval-fresh8.db','fresh9':A+'/build9/s7-bundled/eval-fresh9.db'}
    out={}
    for k,db in dbs.items():
        if not os.path.exists(db): print('missing',db); continue
        c=sqlite3.connect(f'file:{db}?mode=ro',uri=True)
        r=c.execute("select pcap_filename, count(*), sum(anomaly) from flows where end_reason!='active' group by pcap_filename").fetchall()
        n=sum(x[1] for x in r); f=sum(x[2] or 0 for x in r)
        bl=[(p.split('/')[-2]+'/'+p.split('/')[-1][:-5],a,b) for p,a,b in r if (b or 0)>=3]
        out[k]={'flows':n,'flagged':f,'blocks':[{'run':x[0],'flows':x[1],'flagged':x[2]} for x in sorted(bl,key=lambda t:-t[2])]}
        print(k,n,f,'%.2f%%'%(100*f/n),'in blocks',sum(x[2] for x in bl),bl)
    json.dump(out,open(sys.argv[2] if len(sys.argv)>2 else 'blocks-bundled.json','w'),indent=1)
    sys.exit(0)
from round9_check import *  # noqa: E402,F401,F403
names=[f'seq{i}' for i in range(L)]+counters
def feat_err(x):
    with torch.no_grad():
        z=m.t(torch.tensor(np.asarray(x),dtype=torch.float32))
        e=torch.stack([ (lambda d: m.w*(d-m.ctx*torch.relu(d))**2)(m.aes[k](z)-z) for k in range(len(m.aes))]).mean(0)
        return e.numpy(), z.numpy()
out={}
allsets=dict(sets); allsets['test']=test
tot=collections.Counter(); totb=collections.Counter()
for s,(x,r) in allsets.items():
    sc=score(m,x); f=sc>T; P=parts(m,x); E,Z=feat_err(x)
    tot[s]=int(f.sum())
    for run in sorted(set(r[f])):
        k=r==run; fk=k&f
        if fk.sum()<3: continue
        totb[s]+=int(fk.sum())
        pm=P[fk].mean(0); cg=m.gains.numpy()
        em=E[fk].mean(0); o=np.argsort(-em)[:5]
        row={'run':run.split('/')[-2]+'/'+run.split('/')[-1][:-5],'flows':int(k.sum()),'flagged':int(fk.sum()),'parts_seq_cnt_ctx':[round(float(v),3) for v in pm],
             'carried_by':['sum','counters alone','context alone'][int(np.argmax([pm.sum(),cg[1]*pm[1],cg[2]*pm[2]]))],
             'top_features':{names[i]:round(float(em[i]),3) for i in o}, 'z':{names[i]:round(float(Z[fk][:,i].mean()),2) for i in o}}
        out.setdefault(s,[]).append(row)
        print(s,row)
print('flagged',dict(tot)); print('in blocks of >=3',dict(totb))
json.dump({'threshold':T,'blocks':out,'flagged':tot,'in_blocks':totb},open(sys.argv[3] if len(sys.argv)>3 else 'diag-base.json','w'),indent=1)
