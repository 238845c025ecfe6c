"""Compare `itlm-inspector check --all` tables with CleanVision's issues.csv (README, "Image checks")."""
import csv, os, sys
CV = os.environ.get("CV_DIR", "/tmp/cv")
def load(p):
    return list(csv.DictReader(open(p)))
for cvf, ours, root in [(f"{CV}/issues.csv", f"{CV}/ours_set.csv", f"{CV}/set/"), (f"{CV}/plus_issues.csv", f"{CV}/ours_set_plus.csv", f"{CV}/set_plus/")]:
    cv = {r["path"][len(root):]: r for r in load(cvf)}
    us = {r["id"]: r for r in load(ours)}
    assert set(cv)==set(us), (set(cv)^set(us))
    keys = [("dark","dark"),("light","light"),("blurry","blurry"),("low_information","low_information"),("odd_aspect_ratio","odd_aspect_ratio"),("odd_size","odd_size")]
    print(cvf, len(cv), "images")
    agree=0; total=0
    for ck, uk in keys + [("grayscale","grey")]:
        mism=[]
        for f in cv:
            a = cv[f]["is_%s_issue"%ck]=="True"
            b = uk in us[f]["issues"].split(";")
            total+=1; agree+= a==b
            if a!=b: mism.append((f,a,b))
        diffs=[]
        if ck!="grayscale":
            for f in cv:
                diffs.append((abs(float(cv[f][ck+"_score"])-float(us[f][uk+"_score"])), f))
            diffs.sort(reverse=True)
            md = diffs[0]
        else: md=None
        print(f"  {ck:18s} flagged cv={sum(cv[f]['is_%s_issue'%ck]=='True' for f in cv):2d} ours={sum(uk in us[f]['issues'].split(';') for f in cv):2d} mismatches={mism} max|score diff|={md[0] if md else '-':.4} ({md[1] if md else ''})" if md else f"  {ck:18s} flagged cv={sum(cv[f]['is_%s_issue'%ck]=='True' for f in cv):2d} ours={sum(uk in us[f]['issues'].split(';') for f in cv):2d} mismatches={mism}")
    print("  flags agree", agree, "of", total)
