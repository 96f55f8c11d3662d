#!/usr/bin/env python3
# Derives the expected ids of tests/conformance/cases/search/data/*.json from the shared data files
# (../shared/data/synthea/r4-bundles, fhir-r4-spec/examples-json) with hand-written FHIR R4 search
# rules, independently of the server, and writes the case files. Run from anywhere:
#   python3 tests/conformance/tools/derive_search_expectations.py
# Regenerating rewrites the case files; review the diff (knownFailure markers are set here too).
import json,glob,collections,unicodedata,datetime,os
ROOT=os.path.abspath(os.path.join(os.path.dirname(__file__),"..","..",".."))
DATA=os.path.join(ROOT,"..","shared","data")
S=collections.defaultdict(dict)
for f in sorted(glob.glob(DATA+'/synthea/r4-bundles/*.json')):
    for e in json.load(open(f))['entry']:
        r=e['resource']; S[r['resourceType']][r['id']]=r
def rid(reference):  # "urn:uuid:x" or "Type/x" -> x
    return reference.split(':')[-1].split('/')[-1]
def fold(s):
    s=unicodedata.normalize('NFKD',s)
    return ''.join(c for c in s if not unicodedata.combining(c)).lower()
def sw(vals,q): return any(fold(v).startswith(fold(q)) for v in vals if v)
def ct(vals,q): return any(fold(q) in fold(v) for v in vals if v)
def ex(vals,q): return any(v==q for v in vals if v)
def name_parts(r,kind='name'):
    out=[]
    for n in r.get('name',[]):
        if kind in('name','family'): out.append(n.get('family'))
        if kind in('name','given'): out+=n.get('given',[])
        if kind=='name': out+=n.get('prefix',[])+n.get('suffix',[])+[n.get('text')]
    return [x for x in out if x]
def where(t,pred): return sorted(i for i,r in S[t].items() if pred(r))
def codings(cc):
    if cc is None: return []
    if isinstance(cc,list): return [c for x in cc for c in x.get('coding',[])]
    return cc.get('coding',[])
def tok(cc,system,code):  # system None: any; '' : no system
    for c in codings(cc):
        if c.get('code')!=code: continue
        if system is None or c.get('system','')==system: return True
    return False
# --- dates as [lo,hi) in UTC seconds
def parse(v):
    """FHIR date/dateTime/instant -> (lo, hi) epoch seconds, by precision (UTC if no zone)."""
    import re
    m=re.match(r'^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$',v)
    assert m, v
    y,mo,d,h,mi,s,frac,tz=m.groups()
    UTC=datetime.timezone.utc
    if mo is None: lo=datetime.datetime(int(y),1,1,tzinfo=UTC); hi=datetime.datetime(int(y)+1,1,1,tzinfo=UTC)
    elif d is None:
        lo=datetime.datetime(int(y),int(mo),1,tzinfo=UTC)
        hi=datetime.datetime(int(y)+(mo=='12'),1 if mo=='12' else int(mo)+1,1,tzinfo=UTC)
    elif h is None: lo=datetime.datetime(int(y),int(mo),int(d),tzinfo=UTC); hi=lo+datetime.timedelta(days=1)
    else:
        tzinfo=UTC
        if tz and tz!='Z':
            sign=1 if tz[0]=='+' else -1
            tzinfo=datetime.timezone(sign*datetime.timedelta(hours=int(tz[1:3]),minutes=int(tz[4:6])))
        lo=datetime.datetime(int(y),int(mo),int(d),int(h),int(mi),int(s or 0),tzinfo=tzinfo)
        hi=lo+datetime.timedelta(seconds=1 if s is not None else 60)
    return lo.timestamp(),hi.timestamp()
def period(p):
    lo=parse(p['start'])[0] if p.get('start') else float('-inf')
    hi=parse(p['end'])[1] if p.get('end') else float('inf')
    return lo,hi
def dmatch(target,q):
    """-> (strict R4 reading, overlap reading) for prefix+value q against target range."""
    pre=q[:2] if q[:2] in('eq','ne','gt','lt','ge','le','sa','eb','ap') else 'eq'
    v=q[2:] if q[:2]==pre else q
    slo,shi=parse(v); tlo,thi=target
    eq= slo<=tlo and thi<=shi
    strict={'eq':eq,'ne':not eq,'gt':thi>shi,'lt':tlo<slo,'ge':thi>shi or eq,'le':tlo<slo or eq}[pre]
    loose={'eq':eq,'ne':not eq,'gt':thi>shi,'lt':tlo<slo,'ge':thi>slo,'le':tlo<shi}[pre]
    return strict,loose
def dwhere(t,getter,*qs):
    """ids whose target (from getter, None=no value) matches all qs; asserts both readings agree."""
    a=[];b=[]
    for i,r in S[t].items():
        tg=getter(r)
        if tg is None: continue
        s=all(dmatch(tg,q)[0] for q in qs); l=all(dmatch(tg,q)[1] for q in qs)
        if s: a.append(i)
        if l: b.append(i)
    assert sorted(a)==sorted(b), ('readings differ',qs,set(a)^set(b))
    return sorted(a)
CASES={}
cur=None
def case(fname,purpose,load=("synthea/r4-bundles",)):
    global cur
    cur={"purpose":purpose,"load":list(load),"steps":[]}
    CASES[fname]=cur
def q(desc,path,ids=None,order=None,total=None,included=None,follow=False,known=None,status=200,body=None):
    exp={"status":status}
    if total is not None: exp["total"]=total
    if ids is not None: exp["ids"]=sorted(ids)
    if order is not None: exp["idsInOrder"]=list(order)
    if included is not None: exp["includedIds"]=sorted(included)
    if body is not None: exp["body"]=body
    if ids is not None and path.startswith("Patient?") and 0 < len(ids) <= 6 and all(i in S['Patient'] for i in ids):
        desc += " [" + ", ".join(sorted(S['Patient'][i]['name'][0]['given'][0] + " " + S['Patient'][i]['name'][0]['family'] for i in ids)) + "]"
    st={"description":desc,"request":{"method":"GET","path":("/fhir" if path.startswith("?") else "/fhir/")+path}}
    if follow: st["followNext"]=True
    if known: st["knownFailure"]=known
    st["expect"]=exp
    cur["steps"].append(st)
P=lambda pred: where('Patient',pred)

# ---------------- string
case("synthea_string.json","String search over the 70 Synthea patients (and their practitioners and organizations): default matching is a case- and accent-insensitive prefix of any part, :exact is the whole value as written, :contains is anywhere in it. Expected ids worked out from the data files by hand rules, not from a server.")
q("family: the default match ignores case", "Patient?family=kihn", P(lambda r: sw(name_parts(r,'family'),'kihn')))
assert len(CASES["synthea_string.json"]["steps"][-1]["expect"]["ids"])==2
q("family: a prefix matches", "Patient?family=Kri", P(lambda r: sw(name_parts(r,'family'),'Kri')))
q("family: accents are ignored (Ordóñez)", "Patient?family=ordonez", P(lambda r: sw(name_parts(r,'family'),'ordonez')))
assert len(CASES["synthea_string.json"]["steps"][-1]["expect"]["ids"])==1
q("family:exact: the whole value, same case", "Patient?family:exact=Kihn", P(lambda r: ex(name_parts(r,'family'),'Kihn')))
q("family:exact: different case matches nothing", "Patient?family:exact=kihn", P(lambda r: ex(name_parts(r,'family'),'kihn')))
q("family:exact: a prefix is not the whole value", "Patient?family:exact=Kri", P(lambda r: ex(name_parts(r,'family'),'Kri')))
q("family:exact: accents count (Ordóñez)", "Patient?family:exact=Ord%C3%B3%C3%B1ez", P(lambda r: ex(name_parts(r,'family'),'Ordóñez')))
q("family:contains: inside the value", "Patient?family:contains=ttl", P(lambda r: ct(name_parts(r,'family'),'ttl')))
q("family:contains: ignores case", "Patient?family:contains=MAN", P(lambda r: ct(name_parts(r,'family'),'man')))
q("given: Elisha", "Patient?given=Elisha", P(lambda r: sw(name_parts(r,'given'),'Elisha')))
q("given: a prefix of a two-word given name (José María)", "Patient?given=jose", P(lambda r: sw(name_parts(r,'given'),'jose')))
q("name: any part (given Louis)", "Patient?name=Louis", P(lambda r: sw(name_parts(r,'name'),'Louis')))
q("name: the maiden name is a name too (use=maiden)", "Patient?name=Conn", P(lambda r: sw(name_parts(r,'name'),'Conn')))
q("name: OR of values with a comma", "Patient?name=Kutch,Kihn", P(lambda r: sw(name_parts(r,'name'),'Kutch') or sw(name_parts(r,'name'),'Kihn')))
q("name and birthdate: parameters AND together", "Patient?name=Elisha&birthdate=lt1968", P(lambda r: sw(name_parts(r,'name'),'Elisha') and r['birthDate']<'1968'))
q("name:contains across given names", "Patient?name:contains=ari", P(lambda r: ct(name_parts(r,'name'),'ari')))
def cities(r): return [a.get('city') for a in r.get('address',[])]
q("address-city: Easton", "Patient?address-city=Easton", P(lambda r: sw(cities(r),'Easton')))
q("address-city: prefix 'Spring' (Springfield)", "Patient?address-city=spring", P(lambda r: sw(cities(r),'spring')))
q("address-city:exact with a space (Fall River)", "Patient?address-city:exact=Fall%20River", P(lambda r: ex(cities(r),'Fall River')))
q("address-city:contains 'town' (Easthampton Town, Greenfield Town)", "Patient?address-city:contains=town", P(lambda r: ct(cities(r),'town')))
def addr_all(r):
    out=[]
    for a in r.get('address',[]):
        out+=a.get('line',[])+[a.get('city'),a.get('district'),a.get('state'),a.get('postalCode'),a.get('country'),a.get('text')]
    return [x for x in out if x]
q("address-postalcode: 02334", "Patient?address-postalcode=02334", P(lambda r: sw([a.get('postalCode') for a in r.get('address',[])],'02334')))
q("address: any part (city Cambridge)", "Patient?address=Cambridge", P(lambda r: sw(addr_all(r),'Cambridge')))
q("address-state: every patient lives in Massachusetts", "Patient?address-state=massachusetts&_count=100", ids= P(lambda r: sw([a.get('state') for a in r.get('address',[])],'massachusetts')))
q("Practitioner name: family Hettinger", "Practitioner?family=Hettinger", where('Practitioner',lambda r: sw(name_parts(r,'family'),'Hettinger')))
q("Practitioner address-city is upper case in the data (FALL RIVER)", "Practitioner?address-city=fall%20river", where('Practitioner',lambda r: sw(cities(r),'fall river')))
q("Organization name: prefix, case-insensitive", "Organization?name=southcoast", where('Organization',lambda r: sw([r.get('name')]+r.get('alias',[]),'southcoast')))
q("Organization name:contains 'HOSPITAL'", "Organization?name:contains=hospital&_count=100", ids= where('Organization',lambda r: ct([r.get('name')]+r.get('alias',[]),'hospital')))

# ---------------- token
case("synthea_token.json","Token search over the Synthea data: system|code, code alone, |code (no system), system|, identifiers, :not, :text, :of-type, booleans. Expected ids from the data files by hand rules.")
def idents(r): return r.get('identifier',[])
def idtok(r,system,value):
    return any((system is None or i.get('system','')==system) and (value is None or i.get('value')==value) for i in idents(r))
pid=lambda fam,giv: next(i for i,r in S['Patient'].items() if r['name'][0]['family']==fam and r['name'][0]['given'][0]==giv)
fonseca=pid('Fonseca','Agustín')
ssn=next(i['value'] for i in S['Patient'][fonseca]['identifier'] if i.get('system')=='http://hl7.org/fhir/sid/us-ssn')
q("identifier system|value (SSN)", f"Patient?identifier=http://hl7.org/fhir/sid/us-ssn|{ssn}", P(lambda r: idtok(r,'http://hl7.org/fhir/sid/us-ssn',ssn)))
q("identifier value alone", f"Patient?identifier={ssn}", P(lambda r: idtok(r,None,ssn)))
q("identifier with the wrong system matches nothing", f"Patient?identifier=http://hospital.smarthealthit.org|{ssn}", P(lambda r: idtok(r,'http://hospital.smarthealthit.org',ssn)))
mrn=S['Patient'][fonseca]['identifier'][1]['value']
q("identifier: the MRN system", f"Patient?identifier=http://hospital.smarthealthit.org|{mrn}", P(lambda r: idtok(r,'http://hospital.smarthealthit.org',mrn)))
def oftype(r,tsys,tcode,value):
    return any(i.get('value')==value and tok(i.get('type'),tsys,tcode) for i in idents(r))
q("identifier:of-type type-system|type-code|value (SS)", f"Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|SS|{ssn}", P(lambda r: oftype(r,'http://terminology.hl7.org/CodeSystem/v2-0203','SS',ssn)))
q("identifier:of-type with a type the identifier lacks (MR) matches nothing", f"Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|{ssn}", P(lambda r: oftype(r,'http://terminology.hl7.org/CodeSystem/v2-0203','MR',ssn)))
q("gender=female", "Patient?gender=female", P(lambda r: r.get('gender')=='female'))
q("gender:not=male", "Patient?gender:not=male", P(lambda r: r.get('gender')!='male'))
q("gender with its code system: for a code the system is implicit (the code system of its required binding)", "Patient?gender=http://hl7.org/fhir/administrative-gender|female", P(lambda r: r.get('gender')=='female'))
O=lambda pred: where('Observation',pred)
q("Observation code system|code (FEV1/FVC)", "Observation?code=http://loinc.org|19926-5", O(lambda r: tok(r['code'],'http://loinc.org','19926-5')))
q("Observation code alone (any system)", "Observation?code=55277-8", O(lambda r: tok(r['code'],None,'55277-8')))
q("Observation code with no system (|code): LOINC codings have one, so nothing", "Observation?code=|55277-8", O(lambda r: tok(r['code'],'','55277-8')))
q("Observation code in another system matches nothing", "Observation?code=http://snomed.info/sct|55277-8", O(lambda r: tok(r['code'],'http://snomed.info/sct','55277-8')))
q("Observation code: OR of two codes", "Observation?code=http://loinc.org|76690-7,http://loinc.org|71802-3", O(lambda r: tok(r['code'],'http://loinc.org','76690-7') or tok(r['code'],'http://loinc.org','71802-3')))
def ctext(cc):
    out=[]
    for x in (cc if isinstance(cc,list) else [cc]):
        if x is None: continue
        out.append(x.get('text')); out+=[c.get('display') for c in x.get('coding',[])]
    return [y for y in out if y]
q("Observation code:text: the display 'WBC Auto (Bld) [#/Vol]' (2 of the 115 observations of 6690-2)", "Observation?code:text=WBC", O(lambda r: sw(ctext(r['code']),'WBC')))
q("Observation code:text: 'Cause of Death'", "Observation?code:text=cause%20of%20death", O(lambda r: sw(ctext(r['code']),'cause of death')))
q("Condition code system|code (Bullet wound)", "Condition?code=http://snomed.info/sct|262574004", where('Condition',lambda r: tok(r['code'],'http://snomed.info/sct','262574004')))
q("Condition code:text prefix 'Osteoarthritis'", "Condition?code:text=osteoarthritis", where('Condition',lambda r: sw(ctext(r['code']),'osteoarthritis')))
q("Condition clinical-status=active AND a code", "Condition?clinical-status=active&code=http://snomed.info/sct|44054006", where('Condition',lambda r: tok(r.get('clinicalStatus'),None,'active') and tok(r['code'],'http://snomed.info/sct','44054006')))
q("AllergyIntolerance code: Allergy to peanuts", "AllergyIntolerance?code=http://snomed.info/sct|91935009", where('AllergyIntolerance',lambda r: tok(r['code'],'http://snomed.info/sct','91935009')))
q("Immunization vaccine-code: MMR (CVX 03)", "Immunization?vaccine-code=http://hl7.org/fhir/sid/cvx|03", where('Immunization',lambda r: tok(r['vaccineCode'],'http://hl7.org/fhir/sid/cvx','03')))
q("Encounter class=IMP (inpatient), a Coding", "Encounter?class=IMP", where('Encounter',lambda r: r['class'].get('code')=='IMP'))
q("Encounter class system|code", "Encounter?class=http://terminology.hl7.org/CodeSystem/v3-ActCode|IMP", where('Encounter',lambda r: r['class'].get('code')=='IMP' and r['class'].get('system')=='http://terminology.hl7.org/CodeSystem/v3-ActCode'))
q("MedicationRequest code (Levora, 3 requests)", "MedicationRequest?code=http://www.nlm.nih.gov/research/umls/rxnorm|748879", where('MedicationRequest',lambda r: tok(r.get('medicationCodeableConcept'),'http://www.nlm.nih.gov/research/umls/rxnorm','748879')))
q("MedicationRequest status:not=stopped AND that code", "MedicationRequest?status:not=stopped&code=http://www.nlm.nih.gov/research/umls/rxnorm|748879", where('MedicationRequest',lambda r: r['status']!='stopped' and tok(r.get('medicationCodeableConcept'),'http://www.nlm.nih.gov/research/umls/rxnorm','748879')))
maggio=pid('Maggio','Louis')
q("CarePlan status=active for one patient (3 of their 4)", f"CarePlan?status=active&subject=Patient/{maggio}", where('CarePlan',lambda r: r['status']=='active' and rid(r['subject']['reference'])==maggio))
q("Practitioner identifier system|value (NPI)", "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|300", where('Practitioner',lambda r: idtok(r,'http://hl7.org/fhir/sid/us-npi','300')))
q("Organization type=prov with _count", "Organization?type=http://terminology.hl7.org/CodeSystem/organization-type|prov&_count=100", ids= where('Organization',lambda r: tok(r.get('type',[]),'http://terminology.hl7.org/CodeSystem/organization-type','prov')))
def deceased(r): return ('deceasedDateTime' in r) or r.get('deceasedBoolean') is True
q("deceased=true (deceasedDateTime present)", "Patient?deceased=true", P(deceased))
q("Practitioner active=true (a boolean), every page", "Practitioner?active=true&_count=40", follow=True, ids= where('Practitioner',lambda r: r.get('active') is True))

# ---------------- reference, chains, _has, compartments, $everything, _include/_revinclude
case("synthea_reference.json","Reference search over the Synthea data, whose references (urn:uuid in the bundles) were stored as Type/id: patient=, subject=Type/id, a bare id, chains, _has, _include/_revinclude, the Patient compartment and $everything. Expected ids from the data files by hand rules.")
hoeger=pid('Hoeger','Buster')
def refto(r,key): 
    v=r.get(key)
    vs=v if isinstance(v,list) else [v]
    return [rid(x['reference']) for x in vs if isinstance(x,dict) and 'reference' in x]
q("Condition?patient=Patient/id", f"Condition?patient=Patient/{hoeger}", where('Condition',lambda r: hoeger in refto(r,'subject')))
q("Condition?subject=Patient/id (subject, same target)", f"Condition?subject=Patient/{hoeger}", where('Condition',lambda r: hoeger in refto(r,'subject')))
q("Condition?subject=id: a bare id", f"Condition?subject={hoeger}", where('Condition',lambda r: hoeger in refto(r,'subject')))
q("Condition?subject:Patient=id: a type modifier", f"Condition?subject:Patient={hoeger}", where('Condition',lambda r: hoeger in refto(r,'subject')))
q("Encounter?patient and a date", f"Encounter?patient=Patient/{hoeger}&date=ge2016", where('Encounter',lambda r: hoeger in refto(r,'subject') and dmatch(period(r['period']),'ge2016')[0] and dmatch(period(r['period']),'ge2016')[1]))
q("Observation?patient and code (BMI of one patient)", f"Observation?patient=Patient/{hoeger}&code=http://loinc.org|39156-5", O(lambda r: hoeger in refto(r,'subject') and tok(r['code'],'http://loinc.org','39156-5')))
stark=next(i for i,r in S['Practitioner'].items() if r['name'][0]['family']=='Stark' and any(hoeger==rid(e['subject']['reference']) and i in [rid(p['individual']['reference']) for p in e.get('participant',[])] for e in S['Encounter'].values()))
def participants(r): return [rid(p['individual']['reference']) for p in r.get('participant',[]) if 'individual' in p]
q("Encounter?participant=Practitioner/id", f"Encounter?participant=Practitioner/{stark}", where('Encounter',lambda r: stark in participants(r)))
q("Encounter?practitioner=Practitioner/id (the same path, Practitioner only)", f"Encounter?practitioner=Practitioner/{stark}", where('Encounter',lambda r: stark in participants(r)))
dr1='ccd5e376-57f4-4b5d-8d05-92bb3165e45e'
res1=[rid(x['reference']) for x in S['DiagnosticReport'][dr1]['result']]
q("DiagnosticReport?result=Observation/id", f"DiagnosticReport?result=Observation/{res1[0]}", where('DiagnosticReport',lambda r: res1[0] in refto(r,'result')))
enc1=[i for i,r in S['Encounter'].items() if hoeger in refto(r,'subject') and r['period']['start'].startswith('2016-12-14')][0]
q("Observation?encounter=Encounter/id", f"Observation?encounter=Encounter/{enc1}", O(lambda r: enc1 in refto(r,'encounter')))
cenc=refto(S['Condition'][where('Condition',lambda r: hoeger in refto(r,'subject'))[0]],'encounter')[0]
q("Condition?encounter=Encounter/id", f"Condition?encounter=Encounter/{cenc}", where('Condition',lambda r: cenc in refto(r,'encounter')))
# chains
fam=lambda pid_: S['Patient'][pid_]['name'][0]['family'] if pid_ in S['Patient'] else ''
q("chain: Condition?subject:Patient.family=Hoeger", "Condition?subject:Patient.family=Hoeger", where('Condition',lambda r: any(sw(name_parts(S['Patient'][x],'family'),'Hoeger') for x in refto(r,'subject') if x in S['Patient'])))
q("chain: Observation?patient.name=Kihn&code=BMI (both Kihn patients)", "Observation?patient.name=Kihn&code=http://loinc.org|39156-5", O(lambda r: tok(r['code'],'http://loinc.org','39156-5') and any(sw(name_parts(S['Patient'][x]),'Kihn') for x in refto(r,'subject') if x in S['Patient'])))
q("chain: Encounter?subject.birthdate=1976-01-16&class=EMER (Fadel and Maggio share a birth date)", "Encounter?subject:Patient.birthdate=1976-01-16&class=EMER", where('Encounter',lambda r: r['class']['code']=='EMER' and any(S['Patient'][x]['birthDate']=='1976-01-16' for x in refto(r,'subject') if x in S['Patient'])))
q("chain through a token: Immunization?patient.identifier=SSN", f"Immunization?patient.identifier=http://hl7.org/fhir/sid/us-ssn|{ssn}", where('Immunization',lambda r: any(idtok(S['Patient'][x],'http://hl7.org/fhir/sid/us-ssn',ssn) for x in refto(r,'patient'))))
q("chain to a Practitioner: Encounter?participant:Practitioner.family=Stark&patient=...", f"Encounter?participant:Practitioner.family=Stark&patient={hoeger}", where('Encounter',lambda r: hoeger in refto(r,'subject') and any(sw(name_parts(S['Practitioner'][x],'family'),'Stark') for x in participants(r))))
q("chain to an Organization: Encounter?service-provider.name=COOLEY&date=2019", "Encounter?service-provider.name=cooley&date=2019", where('Encounter',lambda r: any(sw([S['Organization'][x].get('name')],'cooley') for x in refto(r,'serviceProvider')) and dmatch(period(r['period']),'2019')[0]))
# _has
def has_cond(p,system,code): return any(p in refto(c,'subject') and tok(c['code'],system,code) for c in S['Condition'].values())
q("_has: patients with a Condition 'Fracture of forearm'", "Patient?_has:Condition:patient:code=http://snomed.info/sct|65966004", P(lambda r: has_cond(r['id'],'http://snomed.info/sct','65966004')))
q("_has: patients with a shellfish allergy", "Patient?_has:AllergyIntolerance:patient:code=http://snomed.info/sct|300913006", P(lambda r: any(r['id'] in refto(a,'patient') and tok(a['code'],'http://snomed.info/sct','300913006') for a in S['AllergyIntolerance'].values())))
q("_has AND another parameter: patients born in 1990 or later with a Condition 'Sprain of wrist'", "Patient?birthdate=ge1990&_has:Condition:patient:code=http://snomed.info/sct|70704007", P(lambda r: r["birthDate"]>="1990" and has_cond(r['id'],'http://snomed.info/sct','70704007')))
q("_has: practitioners who took part in Encounters of Hoeger", f"Practitioner?_has:Encounter:participant:patient=Patient/{hoeger}", where('Practitioner',lambda r: any(r['id'] in participants(e) and hoeger in refto(e,'subject') for e in S['Encounter'].values())))
# compartments
q("compartment: /Patient/id/Condition", f"Patient/{hoeger}/Condition", where('Condition',lambda r: hoeger in refto(r,'subject')))
q("compartment: /Patient/id/Observation with a code", f"Patient/{hoeger}/Observation?code=http://loinc.org|8302-2", O(lambda r: hoeger in refto(r,'subject') and tok(r['code'],'http://loinc.org','8302-2')))
q("compartment: /Patient/id/Observation, every page", f"Patient/{hoeger}/Observation?_count=10", follow=True, ids=O(lambda r: hoeger in refto(r,'subject')))
q("compartment: /Patient/id/ExplanationOfBenefit", f"Patient/{hoeger}/ExplanationOfBenefit", where('ExplanationOfBenefit',lambda r: hoeger in refto(r,'patient')))
# patient compartment per CompartmentDefinition-patient: patient/subject (and performer/payee/asserter/recorder, which Synthea does not set to patients)
everything=[hoeger]
for t in S:
    if t in ('Patient','Practitioner','Organization'): continue
    for i,r in S[t].items():
        if hoeger in refto(r,'subject')+refto(r,'patient'): everything.append(i)
q("Patient/id/$everything: the patient and its compartment (63 resources of 9 types), every page", f"Patient/{hoeger}/$everything?_count=30", follow=True, ids=everything)
# _include / _revinclude
enc_last=[i for i,r in S['Encounter'].items() if hoeger in refto(r,'subject') and r['period']['start'].startswith('2019-12-18')][0]
er=S['Encounter'][enc_last]
q("_include: Encounter with its subject, participant and service provider", f"Encounter?_id={enc_last}&_include=Encounter:subject&_include=Encounter:participant&_include=Encounter:service-provider",
  ids=[f"Encounter/{enc_last}"], included=[f"Patient/{hoeger}"]+[f"Practitioner/{x}" for x in participants(er)]+[f"Organization/{x}" for x in refto(er,'serviceProvider')])
q("_include with a target type: Encounter:participant:Practitioner", f"Encounter?_id={enc_last}&_include=Encounter:participant:Practitioner", ids=[f"Encounter/{enc_last}"], included=[f"Practitioner/{x}" for x in participants(er)])
q("_include: DiagnosticReport:result brings its Observations", f"DiagnosticReport?_id={dr1}&_include=DiagnosticReport:result", ids=[f"DiagnosticReport/{dr1}"], included=[f"Observation/{x}" for x in set(res1)])
q("_revinclude: a patient with its Conditions", f"Patient?_id={hoeger}&_revinclude=Condition:subject", ids=[f"Patient/{hoeger}"], included=[f"Condition/{i}" for i in where('Condition',lambda r: hoeger in refto(r,'subject'))])
q("_revinclude: a patient with its Encounters and Immunizations", f"Patient?_id={hoeger}&_revinclude=Encounter:patient&_revinclude=Immunization:patient", ids=[f"Patient/{hoeger}"], included=[f"Encounter/{i}" for i in where('Encounter',lambda r: hoeger in refto(r,'subject'))]+[f"Immunization/{i}" for i in where('Immunization',lambda r: hoeger in refto(r,'patient'))])
encs_h=where('Encounter',lambda r: hoeger in refto(r,'subject'))
q("_include on many matches: Hoeger's Encounters include the one Practitioner and Organization once each", f"Encounter?patient={hoeger}&_include=Encounter:participant&_include=Encounter:service-provider", ids=[f"Encounter/{i}" for i in encs_h], included=sorted({f"Practitioner/{x}" for i in encs_h for x in participants(S['Encounter'][i])}|{f"Organization/{x}" for i in encs_h for x in refto(S['Encounter'][i],'serviceProvider')}))

# ---------------- date, quantity, number
case("synthea_date_quantity.json","Date and quantity search over the Synthea data: birthdate at year, month and day precision with eq/ne/gt/ge/lt/le, death dates, Observation effective times, Encounter periods, value-quantity with prefixes, units and the implicit precision of the searched number. Expected ids from the data files by hand rules (FHIR R4 search §3.1.1.4.2: a date is the range of its precision; each query here gives the same ids under the strict and the overlap reading of ge/le).")
bd=lambda r: parse(r['birthDate'])
for qq,desc in [('1976-01-16','day precision: two patients share the day'),('1976-01','month precision'),('1976','year precision: three patients born in 1976'),('eq1976','an explicit eq'),
                ('ge2019','ge year'),('gt2019-06','gt month: born after June 2019'),('lt1950','lt year'),('le1951-04-30','le day: includes the day itself'),('ge2000-03-14','ge day: includes the day itself')]:
    q(f"birthdate={qq}: {desc}", f"Patient?birthdate={qq}", dwhere('Patient',bd,qq))
q("birthdate: a range with two parameters (ge1995-01-01 and lt1996)", "Patient?birthdate=ge1995-01-01&birthdate=lt1996", dwhere('Patient',bd,'ge1995-01-01','lt1996'))
q("birthdate: a range within one month (ge1981-02-01, le1981-02-28)", "Patient?birthdate=ge1981-02-01&birthdate=le1981-02-28", dwhere('Patient',bd,'ge1981-02-01','le1981-02-28'))
q("birthdate=ne1976 with every page: all but the three of 1976", "Patient?birthdate=ne1976&_count=30", follow=True, ids=dwhere('Patient',bd,'ne1976'))
q("birthdate: OR of two days with a comma", "Patient?birthdate=1939-01-27,2020-04-09", sorted(set(dwhere('Patient',bd,'1939-01-27'))|set(dwhere('Patient',bd,'2020-04-09'))))
dd=lambda r: parse(r['deceasedDateTime']) if 'deceasedDateTime' in r else None
q("death-date=lt1980", "Patient?death-date=lt1980", dwhere('Patient',dd,'lt1980'))
q("death-date=2020-01 (month)", "Patient?death-date=2020-01", dwhere('Patient',dd,'2020-01'))
eff=lambda r: parse(r['effectiveDateTime']) if 'effectiveDateTime' in r else (period(r['effectivePeriod']) if 'effectivePeriod' in r else None)
hoe=lambda t,extra=lambda r: True: (lambda r: hoeger in (refto(r,'subject')+refto(r,'patient')) and extra(r))
def dwhere_f(t,getter,filt,*qs): return [i for i in dwhere(t,getter,*qs) if filt(S[t][i])]
q("Observation date (day) of one patient", f"Observation?patient={hoeger}&date=2016-12-14", dwhere_f('Observation',eff,hoe('Observation'),'2016-12-14'))
q("Observation date range of one patient (ge2016, lt2018)", f"Observation?patient={hoeger}&date=ge2016&date=lt2018", dwhere_f('Observation',eff,hoe('Observation'),'ge2016','lt2018'))
q("Observation date to the second with a time zone", f"Observation?patient={hoeger}&date=2019-12-18T13:55:57%2B00:00", dwhere_f('Observation',eff,hoe('Observation'),'2019-12-18T13:55:57+00:00'))
q("Observation date=gt with a time (after 14:00 UTC that day): none, all at 13:55:57", f"Observation?patient={hoeger}&date=gt2019-12-18T14:00:00Z", dwhere_f('Observation',eff,hoe('Observation'),'gt2019-12-18T14:00:00Z'))
q("Observation date in another zone: 2019-12-18T08:55:57-05:00 is the same instant", f"Observation?patient={hoeger}&date=2019-12-18T08:55:57-05:00", dwhere_f('Observation',eff,hoe('Observation'),'2019-12-18T08:55:57-05:00'))
per=lambda r: period(r['period'])
q("Encounter date=day: periods within 2016-12-14", "Encounter?date=2016-12-14", dwhere('Encounter',per,'2016-12-14'))
q("Encounter date range across all patients (ge1940-01-01, lt1960)", "Encounter?date=ge1940-01-01&date=lt1960", dwhere('Encounter',per,'ge1940-01-01','lt1960'))
q("Encounter date=gt2020-04 (period after April 2020)", "Encounter?date=gt2020-04&_count=100", dwhere('Encounter',per,'gt2020-04'))
q("Encounter date=lt1945", "Encounter?date=lt1945", dwhere('Encounter',per,'lt1945'))
onset=lambda r: parse(r['onsetDateTime']) if 'onsetDateTime' in r else None
q("Condition onset-date year", "Condition?onset-date=1990", dwhere('Condition',onset,'1990'))
abat=lambda r: parse(r['abatementDateTime']) if 'abatementDateTime' in r else None
q("Condition abatement-date=lt1990", "Condition?abatement-date=lt1990", dwhere('Condition',abat,'lt1990'))
imm=lambda r: parse(r['occurrenceDateTime']) if 'occurrenceDateTime' in r else None
q("Immunization date (month) with a vaccine code", "Immunization?date=2019-12&vaccine-code=http://hl7.org/fhir/sid/cvx|140", [i for i in dwhere('Immunization',imm,'2019-12') if tok(S['Immunization'][i]['vaccineCode'],'http://hl7.org/fhir/sid/cvx','140')])
# quantity: values have ~15 decimals; the searched number's precision gives its range
def qv(r):
    v=r.get('valueQuantity'); return v
def qmatch(val,qstr):
    import decimal
    pre=qstr[:2] if qstr[:2] in('eq','ne','gt','lt','ge','le','ap') else 'eq'
    num=qstr[2:] if qstr[:2]==pre else qstr
    d=decimal.Decimal(num); exp=d.as_tuple().exponent; half=decimal.Decimal(5)*decimal.Decimal(10)**(exp-1)
    lo,hi=d-half,d+half; v=decimal.Decimal(repr(val))
    # the stored values carry 13-15 decimals: treated as points; no value lies within 1e-6 of a bound
    for b in (lo,hi,d): assert abs(v-b)>decimal.Decimal('1e-6'), (val,qstr)
    return {'eq':lo<=v<hi,'ne':not(lo<=v<hi),'gt':v>d,'lt':v<d,'ge':v>=d,'le':v<=d}[pre]
def qwhere(code,qstr,system=None,unit=None,filt=lambda r: True):
    out=[]
    for i,r in S['Observation'].items():
        if not tok(r['code'],'http://loinc.org',code) or not filt(r): continue
        v=r.get('valueQuantity')
        if not v: continue
        if system is not None and v.get('system')!=system: continue
        if unit is not None and unit not in (v.get('code'),v.get('unit')): continue
        if qmatch(v['value'],qstr): out.append(i)
    return sorted(out)
q("value-quantity=gt190 (body height, cm): three observations of one patient", "Observation?code=http://loinc.org|8302-2&value-quantity=gt190", qwhere('8302-2','gt190'))
q("value-quantity=gt190 with system|code", "Observation?code=http://loinc.org|8302-2&value-quantity=gt190|http://unitsofmeasure.org|cm", qwhere('8302-2','gt190','http://unitsofmeasure.org','cm'))
q("value-quantity with the unit only (gt190||cm)", "Observation?code=http://loinc.org|8302-2&value-quantity=gt190||cm", qwhere('8302-2','gt190',None,'cm'))
q("value-quantity with another unit (gt190|http://unitsofmeasure.org|kg) matches nothing", "Observation?code=http://loinc.org|8302-2&value-quantity=gt190|http://unitsofmeasure.org|kg", [])
q("value-quantity=lt3.5 (body weight, kg: newborns)", "Observation?code=http://loinc.org|29463-7&value-quantity=lt3.5", qwhere('29463-7','lt3.5'))
q("value-quantity=ge104 (body weight, kg)", "Observation?code=http://loinc.org|29463-7&value-quantity=ge104", qwhere('29463-7','ge104'))
q("value-quantity=le12.1 (BMI)", "Observation?code=http://loinc.org|39156-5&value-quantity=le12.1", qwhere('39156-5','le12.1'))
q("value-quantity=6.7: eq within the precision of the number (6.65 to 6.75)", "Observation?code=http://loinc.org|14959-1&value-quantity=6.7", qwhere('14959-1','6.7'))
q("value-quantity=6.72: a finer precision (6.715 to 6.725) still holds 6.71696", "Observation?code=http://loinc.org|14959-1&value-quantity=6.72", qwhere('14959-1','6.72'))
q("value-quantity=6.71: 6.705 to 6.715 does not", "Observation?code=http://loinc.org|14959-1&value-quantity=6.71", qwhere('14959-1','6.71'))
q("value-quantity=ne6.7", "Observation?code=http://loinc.org|14959-1&value-quantity=ne6.7", qwhere('14959-1','ne6.7'))
q("value-quantity range: gt30 and lt50 (FEV1/FVC, %)", "Observation?code=http://loinc.org|19926-5&value-quantity=gt30&value-quantity=lt50", sorted(set(qwhere('19926-5','gt30'))&set(qwhere('19926-5','lt50'))))
q("value-quantity=gt38|http://unitsofmeasure.org|Cel (oral temperature)", "Observation?code=http://loinc.org|8331-1&value-quantity=gt38|http://unitsofmeasure.org|Cel", qwhere('8331-1','gt38','http://unitsofmeasure.org','Cel'))
def compq(code,qstr):
    out=[]
    for i,r in S['Observation'].items():
        for c in r.get('component',[]):
            if tok(c['code'],'http://loinc.org',code) and 'valueQuantity' in c and qmatch(c['valueQuantity']['value'],qstr): out.append(i)
    return sorted(set(out))
def anycomp(qstr):
    out=[]
    for i,r in S['Observation'].items():
        for c in r.get('component',[]):
            if 'valueQuantity' in c and qmatch(c['valueQuantity']['value'],qstr): out.append(i)
    return sorted(set(out))
q("component-value-quantity=gt190 (any component: systolic pressures above 190)", "Observation?component-value-quantity=gt190", anycomp('gt190'))
q("value-quantity=gt124 (glucose) AND patient chain", "Observation?code=http://loinc.org|2339-0&value-quantity=gt124", qwhere('2339-0','gt124'))

# ---------------- _id, _lastUpdated, _tag, :missing, _sort, _count paging, _total
case("synthea_result_control.json","_id, _lastUpdated, _tag, :missing, _sort with one and several keys, _count paging followed to the end, _total, over the Synthea data. Expected ids (and their order for _sort) from the data files by hand rules.")
kihns=P(lambda r: sw(name_parts(r,'family'),'Kihn'))
q("_id: one", f"Patient?_id={hoeger}", [hoeger])
q("_id: OR of several, one unknown", f"Patient?_id={hoeger},{fonseca},no-such-id", [hoeger,fonseca])
q("_id AND another parameter that excludes it", f"Patient?_id={hoeger}&gender=female", [])
q("_lastUpdated=gt2020-01-01: everything was stored by this test run", "Patient?_lastUpdated=gt2020-01-01&_count=100", list(S['Patient']))
q("_lastUpdated=lt2020-01-01: nothing (the data's own dates are not lastUpdated)", "Patient?_lastUpdated=lt2020-01-01", [])
q("_tag system|code: every Synthea resource has the tag", "Patient?_tag=https://smarthealthit.org/tags|synthea-5-2019&_count=100", list(S['Patient']))
q("_tag code alone AND a name", "Patient?_tag=synthea-5-2019&family=Kihn", kihns)
q("_tag with another code", "Patient?_tag=https://smarthealthit.org/tags|other", [])
q("address-postalcode:missing=true (two addresses without a postal code)", "Patient?address-postalcode:missing=true", P(lambda r: not any(a.get('postalCode') for a in r.get('address',[]))))
q("death-date:missing=false (the six deceased)", "Patient?death-date:missing=false", P(lambda r: 'deceasedDateTime' in r))
q("abatement-date:missing=true AND patient", f"Condition?patient={hoeger}&abatement-date:missing=true", where('Condition',lambda r: hoeger in refto(r,'subject') and 'abatementDateTime' not in r))
q("Encounter reason-code:missing=false AND patient", f"Encounter?patient={hoeger}&reason-code:missing=false", where('Encounter',lambda r: hoeger in refto(r,'subject') and bool(r.get('reasonCode'))))
def srt(ids,key,rev=False): return [i for i in sorted(ids,key=key,reverse=rev)]
pt=S['Patient']
boston=P(lambda r: sw(cities(r),'Boston'))
assert len({pt[i]['birthDate'] for i in boston})==len(boston)
q("_sort=birthdate", "Patient?address-city=Boston&_sort=birthdate", order=srt(boston,lambda i: pt[i]['birthDate']))
q("_sort=-birthdate (descending)", "Patient?address-city=Boston&_sort=-birthdate", order=srt(boston,lambda i: pt[i]['birthDate'],True))
km=P(lambda r: sw(name_parts(r,'family'),'K'))
q("_sort on two keys: family, then -birthdate (Kihn, Kris and Kutch twice each)", "Patient?family=K&_sort=family,-birthdate",
  order=[i for i in sorted(km,key=lambda i:(pt[i]['name'][0]['family'], -int(pt[i]['birthDate'].replace('-',''))))])
q("_sort on two keys: gender, then family (female first)", "Patient?address-city=Boston&_sort=gender,family",
  order=sorted(boston,key=lambda i:(pt[i]['gender'],pt[i]['name'][0]['family'],pt[i]['name'][0]['given'][0])), known=None)
q("_sort=_id", "Patient?family=K&_sort=_id", order=sorted(km))
encs_h=where('Encounter',lambda r: hoeger in refto(r,'subject'))
q("_sort=-date on Encounters of one patient", f"Encounter?patient={hoeger}&_sort=-date", order=sorted(encs_h,key=lambda i: S['Encounter'][i]['period']['start'],reverse=True))
q("_count=3 pages: every Boston patient once across the pages", "Patient?address-city=Boston&_count=3", follow=True, ids=boston)
q("_count=4 with _sort: pages keep the order", "Patient?address-city=Boston&_count=4&_sort=birthdate", follow=True, order=srt(boston,lambda i: pt[i]['birthDate']))
q("_total=accurate with _count=2: total is the whole match count", "Patient?address-city=Boston&_count=2&_total=accurate&_sort=birthdate", order=srt(boston,lambda i: pt[i]['birthDate'])[:2], total=len(boston))
q("total of Observations of one code", "Observation?code=http://loinc.org|33914-3&_count=5", total=len(O(lambda r: tok(r['code'],'http://loinc.org','33914-3'))), ids=None)

# ---- gen2
# official examples
EX={}
rej={l.split('\t')[0] for l in open(ROOT+'/tests/validator/rejected_examples.txt') if l.strip()}
for f in sorted(glob.glob(DATA+'/fhir-r4-spec/examples-json/*.json')):
    if os.path.basename(f) in rej: continue
    r=json.load(open(f))
    EX.setdefault(r['resourceType'],{})[r['id']]=r
def xw(t,pred): return sorted(i for i,r in EX.get(t,{}).items() if pred(r))
case("examples_search.json","Search over the 700 official R4 example resources (stored by their ids; the few our validator rejects, tests/validator/rejected_examples.txt, are left out): uri with :below/:above, number with prefixes, _profile, _security, strings, tokens, references and :missing. Expected ids from the example files by hand rules.", load=("fhir-r4-spec/examples-json",))
url=lambda r: [r.get('url')] if r.get('url') else []
q("uri: PlanDefinition url exact", "PlanDefinition?url=http://hl7.org/fhir/ig/opioid-cds/PlanDefinition/opioidcds-04", xw('PlanDefinition',lambda r: r.get('url')=='http://hl7.org/fhir/ig/opioid-cds/PlanDefinition/opioidcds-04'))
q("uri: a prefix is not a match without :below", "PlanDefinition?url=http://hl7.org/fhir/ig/opioid-cds", xw('PlanDefinition',lambda r: r.get('url')=='http://hl7.org/fhir/ig/opioid-cds'))
q("uri:below: every opioid CDS PlanDefinition", "PlanDefinition?url:below=http://hl7.org/fhir/ig/opioid-cds", xw('PlanDefinition',lambda r: (r.get('url') or '').startswith('http://hl7.org/fhir/ig/opioid-cds')))
q("uri:below on TestScript", "TestScript?url:below=http://hl7.org/fhir/TestScript/", xw('TestScript',lambda r: (r.get('url') or '').startswith('http://hl7.org/fhir/TestScript/')))
q("uri:above: the url is a prefix of the given value", "Questionnaire?url:above=http://hl7.org/fhir/Questionnaire/bb/extra/part", xw('Questionnaire',lambda r: bool(r.get('url')) and 'http://hl7.org/fhir/Questionnaire/bb/extra/part'.startswith(r['url'])))
q("uri: two versions share a url; version narrows", "ActivityDefinition?url=http://motivemi.com/artifacts/ActivityDefinition/referralPrimaryCareMentalHealth", xw('ActivityDefinition',lambda r: r.get('url')=='http://motivemi.com/artifacts/ActivityDefinition/referralPrimaryCareMentalHealth'))
q("uri AND version (token)", "ActivityDefinition?url=http://motivemi.com/artifacts/ActivityDefinition/referralPrimaryCareMentalHealth&version=1.1.0", xw('ActivityDefinition',lambda r: r.get('url')=='http://motivemi.com/artifacts/ActivityDefinition/referralPrimaryCareMentalHealth' and r.get('version')=='1.1.0'))
def probs(r): return [p['probabilityDecimal'] for p in r.get('prediction',[]) if 'probabilityDecimal' in p]
import decimal
def nmatch(vals,qs):
    pre=qs[:2] if qs[:2] in('eq','ne','gt','lt','ge','le') else 'eq'; num=qs[2:] if qs[:2]==pre else qs
    d=decimal.Decimal(num); half=decimal.Decimal(5)*decimal.Decimal(10)**(d.as_tuple().exponent-1)
    out=False
    for v in vals:
        v=decimal.Decimal(repr(v))
        out|={'eq':d-half<=v<d+half,'ne':not(d-half<=v<d+half),'gt':v>d,'lt':v<d,'ge':v>=d,'le':v<=d}[pre]
    return out
for qs,desc in [('0.02','eq within the precision (0.015 to 0.025)'),('gt0.01','gt'),('lt0.0002','lt: one prediction of the genetic assessment'),('ge0.0015','ge'),('0.000368','eq at six decimals: two assessments')]:
    q(f"number: RiskAssessment probability={qs} ({desc})", f"RiskAssessment?probability={qs}", xw('RiskAssessment',lambda r: nmatch(probs(r),qs)))
q("_profile: the vital signs profile", "Observation?_profile=http://hl7.org/fhir/StructureDefinition/vitalsigns", xw('Observation',lambda r: 'http://hl7.org/fhir/StructureDefinition/vitalsigns' in r.get('meta',{}).get('profile',[])))
q("_profile AND code (body height)", "Observation?_profile=http://hl7.org/fhir/StructureDefinition/vitalsigns&code=http://loinc.org|8302-2", xw('Observation',lambda r: 'http://hl7.org/fhir/StructureDefinition/vitalsigns' in r.get('meta',{}).get('profile',[]) and tok(r['code'],'http://loinc.org','8302-2')))
q("_security system|code (taboo)", "Condition?_security=http://terminology.hl7.org/CodeSystem/v3-ActCode|TBOO", xw('Condition',lambda r: any(s.get('code')=='TBOO' and s.get('system')=='http://terminology.hl7.org/CodeSystem/v3-ActCode' for s in r.get('meta',{}).get('security',[]))))
q("_security code alone", "Condition?_security=TBOO", xw('Condition',lambda r: any(s.get('code')=='TBOO' for s in r.get('meta',{}).get('security',[]))))
# strings and tokens over examples
q("Patient family=Chalmers", "Patient?family=chalmers", xw('Patient',lambda r: sw(name_parts(r,'family'),'chalmers')))
q("Patient name=Jim: a given name of a second HumanName", "Patient?name=Jim", xw('Patient',lambda r: sw(name_parts(r),'Jim')))
q("Patient gender=female", "Patient?gender=female", xw('Patient',lambda r: r.get('gender')=='female'))
q("Patient birthdate:missing=true", "Patient?birthdate:missing=true", xw('Patient',lambda r: 'birthDate' not in r))
q("Patient active=true (five examples have no active element)", "Patient?active=true", xw('Patient',lambda r: r.get('active') is True))
q("Observation subject=Patient/example", "Observation?subject=Patient/example", xw('Observation',lambda r: (r.get('subject') or {}).get('reference')=='Patient/example'))
q("Observation code system|code: body weight (LOINC 29463-7)", "Observation?code=http://loinc.org|29463-7", xw('Observation',lambda r: tok(r['code'],'http://loinc.org','29463-7')))
q("Observation status=cancelled", "Observation?status=cancelled", xw('Observation',lambda r: r.get('status')=='cancelled'))
def vq(r): return r.get('valueQuantity')
q("Observation value-quantity=gt100|http://unitsofmeasure.org|[lb_av]", "Observation?value-quantity=gt100|http://unitsofmeasure.org|%5Blb_av%5D", xw('Observation',lambda r: bool(vq(r)) and vq(r).get('system')=='http://unitsofmeasure.org' and vq(r).get('code')=='[lb_av]' and vq(r)['value']>100))
q("Observation value-concept", "Observation?value-concept=http://snomed.info/sct|260385009", xw('Observation',lambda r: tok(r.get('valueCodeableConcept'),'http://snomed.info/sct','260385009')))
q("Condition patient=example with _revinclude of nothing and _include of the subject", "Condition?subject=Patient/example&_include=Condition:subject", ids=[f"Condition/{i}" for i in xw('Condition',lambda r: (r.get('subject') or {}).get('reference')=='Patient/example')], included=["Patient/example"] if xw('Condition',lambda r: (r.get('subject') or {}).get('reference')=='Patient/example') else [])
q("Organization name:contains 'Health'", "Organization?name:contains=health", xw('Organization',lambda r: ct([r.get('name')]+r.get('alias',[]),'health')))
q("MedicationRequest medication=Medication/med0316: the request that refers to the contained #med0316 is not a match", "MedicationRequest?medication=Medication/med0316", xw('MedicationRequest',lambda r: (r.get('medicationReference') or {}).get('reference')=='Medication/med0316'))
q("Encounter class=IMP over the examples", "Encounter?class=IMP", xw('Encounter',lambda r: (r.get('class') or {}).get('code')=='IMP'))

# ---- gen3
case("synthea_special.json","Composite parameters, _type (search across types), _text/_content (full text), :in/:not-in (value sets) and _list over the Synthea data. Expected ids from the data files by hand rules.")
q("composite code-value-quantity: body height above 190", "Observation?code-value-quantity=http://loinc.org|8302-2$gt190", qwhere('8302-2','gt190'))
q("composite component-code-value-quantity: systolic pressure above 190", "Observation?component-code-value-quantity=http://loinc.org|8480-6$gt190", compq('8480-6','gt190'))
q("composite component-code-value-quantity: diastolic above 190 matches nothing (the systolic component is above it)", "Observation?component-code-value-quantity=http://loinc.org|8462-4$gt190", compq('8462-4','gt190'))
q("_type: a search over two types by _id", f"?_type=Patient,Practitioner&_id={hoeger},{stark}", ids=[f"Patient/{hoeger}", f"Practitioner/{stark}"])
def narrative(r): return (r.get('text') or {}).get('div','')
import re as _re
fseed=_re.search(r'Person seed: (\d+)',narrative(S['Patient'][fonseca])).group(1)
q("_text: a word of one narrative (the Synthea person seed of Fonseca)", f"Patient?_text={fseed}", P(lambda r: fseed in narrative(r)))
q("_content: any text of the resource (Hoeger's viral sinusitis conditions, 2 of 3)", f"Condition?_content=viral&patient={hoeger}", where('Condition',lambda r: hoeger in refto(r,'subject') and 'viral' in fold(json.dumps(r,ensure_ascii=False))))
VS=['85353-1','9279-1','8867-4','2708-6','8310-5','8302-2','9843-4','29463-7','39156-5','85354-9','8480-6','8462-4','8478-0']
q("code:in the vital signs value set (one patient)", f"Observation?patient={hoeger}&code:in=http://hl7.org/fhir/ValueSet/observation-vitalsignresult", O(lambda r: hoeger in refto(r,'subject') and any(tok(r['code'],'http://loinc.org',c) for c in VS)))
q("code:not-in the vital signs value set (one patient)", f"Observation?patient={hoeger}&code:not-in=http://hl7.org/fhir/ValueSet/observation-vitalsignresult", O(lambda r: hoeger in refto(r,'subject') and not any(tok(r['code'],'http://loinc.org',c) for c in VS)))
hc=where('Condition',lambda r: hoeger in refto(r,'subject'))
cur["steps"].append({"description":"a List of two of Hoeger's conditions, for _list","request":{"method":"PUT","path":"/fhir/List/hoeger-problems","body":{"resourceType":"List","id":"hoeger-problems","status":"current","mode":"working","entry":[{"item":{"reference":f"Condition/{hc[0]}"}},{"item":{"reference":f"Condition/{hc[1]}"}}]}},"expect":{"status":201}})
q("_list: the Conditions on a List", "Condition?_list=hoeger-problems", hc[:2])

# ---- gen4
# more cases appended to the existing files
cur=CASES["synthea_string.json"]
q("family: an accented query matches the accented value (Ordóñez)", "Patient?family=Ord%C3%B3%C3%B1ez", P(lambda r: sw(name_parts(r,'family'),'Ordóñez')))
q("family: the maiden name's family (Jakubowski, use=maiden)", "Patient?family=Jakubowski", P(lambda r: sw(name_parts(r,'family'),'Jakubowski')))
q("family: an apostrophe is part of the value (O'Connell)", "Patient?family=O%27Conn", P(lambda r: sw(name_parts(r,'family'),"O'Conn")))
q("given: a prefix running over the space of a two-word given name (josé ma)", "Patient?given=jos%C3%A9%20ma", P(lambda r: sw(name_parts(r,'given'),'josé ma')))
q("given:exact with an accent and a space (María Eugenia)", "Patient?given:exact=Mar%C3%ADa%20Eugenia", P(lambda r: ex(name_parts(r,'given'),'María Eugenia')))
q("given:exact without the accent matches nothing", "Patient?given:exact=Maria%20Eugenia", P(lambda r: ex(name_parts(r,'given'),'Maria Eugenia')))
q("family:contains with an accent-free query inside an accented value (rdon)", "Patient?family:contains=rdon", P(lambda r: ct(name_parts(r,'family'),'rdon')))
cur=CASES["synthea_token.json"]
q("identifier=system| : every patient with an SSN", "Patient?identifier=http://hl7.org/fhir/sid/us-ssn|&_count=100", P(lambda r: idtok(r,'http://hl7.org/fhir/sid/us-ssn',None)))
q("vaccine-code=system| for one patient (all CVX codes)", f"Immunization?vaccine-code=http://hl7.org/fhir/sid/cvx|&patient={hoeger}", where('Immunization',lambda r: hoeger in refto(r,'patient') and any(c.get('system')=='http://hl7.org/fhir/sid/cvx' for c in codings(r['vaccineCode']))))
q("deceased=false: the expression 'deceased.exists() and deceased != false' is false for the living", "Patient?deceased=false&_count=100", P(lambda r: not deceased(r)))
q("code:not=code AND patient (one patient's observations other than BMI)", f"Observation?patient={hoeger}&code:not=http://loinc.org|39156-5", O(lambda r: hoeger in refto(r,'subject') and not tok(r['code'],'http://loinc.org','39156-5')))
cur=CASES["synthea_date_quantity.json"]
oc='d5b9e8d1-eeab-48c6-bfc2-71b8f8ff342b'
ocf=lambda r: oc in refto(r,'subject')
q("Encounter date=2019-12-01: a 2-week encounter (Nov 24 to Dec 7) is not within that day (eq needs containment)", f"Encounter?patient={oc}&date=2019-12-01", dwhere_f('Encounter',per,ocf,'2019-12-01'))
q("Encounter date=2019-11: it is not within November either", f"Encounter?patient={oc}&date=2019-11", dwhere_f('Encounter',per,ocf,'2019-11'))
q("Encounter date=2019: within the year", f"Encounter?patient={oc}&date=2019", dwhere_f('Encounter',per,ocf,'2019'))
q("Encounter date=ge2019-12-01: it ends after that day", f"Encounter?patient={oc}&date=ge2019-12-01", dwhere_f('Encounter',per,ocf,'ge2019-12-01'))
q("Encounter date=le2019-11-30: it starts before that day", f"Encounter?patient={oc}&date=le2019-11-30", dwhere_f('Encounter',per,ocf,'le2019-11-30'))
def sa(t,q_):
    slo,shi=parse(q_); return t[0]>=shi
def eb(t,q_):
    slo,shi=parse(q_); return t[1]<=slo
q("Encounter date=sa2019-11-23: starts after the day", f"Encounter?patient={oc}&date=sa2019-11-23", [i for i in where('Encounter',ocf) if sa(per(S['Encounter'][i]),'2019-11-23')])
q("Encounter date=eb2011-12-31: ends before the day", f"Encounter?patient={oc}&date=eb2011-12-31", [i for i in where('Encounter',ocf) if eb(per(S['Encounter'][i]),'2011-12-31')])
q("birthdate=sa2019-10-01 (starts after)", "Patient?birthdate=sa2019-10-01", [i for i,r in S['Patient'].items() if sa(bd(r),'2019-10-01')])
q("birthdate=eb1950 (ends before)", "Patient?birthdate=eb1950", [i for i,r in S['Patient'].items() if eb(bd(r),'1950')])
perf=lambda r: period(r['performedPeriod']) if 'performedPeriod' in r else None
q("Procedure date (performedPeriod) in one year for one patient", f"Procedure?patient={oc}&date=2019", dwhere_f('Procedure',perf,ocf,'2019'))
cur=CASES["synthea_reference.json"]
q("chain of two: Observation?encounter.service-provider.name=cooley&patient=...", f"Observation?encounter.service-provider.name=cooley&patient={hoeger}&date=2016", O(lambda r: hoeger in refto(r,'subject') and dmatch(eff(r),'2016')[0] and any(sw([S['Organization'][o]['name']],'cooley') for e in refto(r,'encounter') for o in refto(S['Encounter'][e],'serviceProvider'))))
q("_has with a reference value: patients seen at the Cooley Dickinson hospital in 2019 (Encounter service-provider)", f"Patient?_has:Encounter:patient:service-provider={rid(S['Encounter'][enc_last]['serviceProvider']['reference'])}&birthdate=lt1990", P(lambda r: r['birthDate']<'1990' and any(r['id'] in refto(e,'subject') and rid(S['Encounter'][enc_last]['serviceProvider']['reference']) in refto(e,'serviceProvider') for e in S['Encounter'].values())))
dres=[rid(x['reference']) for x in S['DiagnosticReport'][dr1]['result']]
q("_include:iterate: a DiagnosticReport, its results, and their encounter", f"DiagnosticReport?_id={dr1}&_include=DiagnosticReport:result&_include:iterate=Observation:encounter", ids=[f"DiagnosticReport/{dr1}"], included=[f"Observation/{x}" for x in set(dres)]+sorted({f"Encounter/{e}" for x in dres for e in refto(S['Observation'][x],'encounter')}))
q("_revinclude of a Practitioner-side reference: an Organization and the Encounters it served for one patient", f"Organization?_id={rid(S['Encounter'][enc_last]['serviceProvider']['reference'])}&_revinclude=Encounter:service-provider&_count=1", ids=[f"Organization/{rid(S['Encounter'][enc_last]['serviceProvider']['reference'])}"], included=[f"Encounter/{i}" for i in where('Encounter',lambda r: rid(S['Encounter'][enc_last]['serviceProvider']['reference']) in refto(r,'serviceProvider'))])
cur=CASES["synthea_result_control.json"]
q("_summary=count: the total without entries", "Patient?family=K&_summary=count", ids=[], total=len(km))
q("_elements keeps ids and the match mode", "Patient?family=K&_elements=birthDate", ids=km)
q("compartment search with _sort and _count", f"Patient/{hoeger}/Encounter?_sort=date&_count=2", order=sorted(encs_h,key=lambda i: S['Encounter'][i]['period']['start'])[:2], total=len(encs_h))

# ---- gen5
cur=CASES["synthea_reference.json"]
q("chain with a modifier on the last part: subject:Patient.family:exact=Kihn", "Condition?subject:Patient.family:exact=Kihn", where('Condition',lambda r: any(ex(name_parts(S['Patient'][x],'family'),'Kihn') for x in refto(r,'subject') if x in S['Patient'])))
q("_has with a :text modifier: patients with an Observation whose code text starts 'WBC'", "Patient?_has:Observation:patient:code:text=WBC", P(lambda r: any(r['id'] in refto(o,'subject') and sw(ctext(o['code']),'WBC') for o in S['Observation'].values())))
bmp_obs={rid(x['reference']) for d in S['DiagnosticReport'].values() if tok(d['code'],'http://loinc.org','51990-0') for x in d.get('result',[])}
q("nested _has: patients with an Observation that is a result of a Basic Metabolic Panel report", "Patient?_has:Observation:patient:_has:DiagnosticReport:result:code=http://loinc.org|51990-0", P(lambda r: any(r['id'] in refto(S['Observation'][o],'subject') for o in bmp_obs)))
q("death certificate reports: DiagnosticReport code with _include of the subject", "DiagnosticReport?code=http://loinc.org|69409-1&_include=DiagnosticReport:subject", ids=[f"DiagnosticReport/{i}" for i in where('DiagnosticReport',lambda r: tok(r['code'],'http://loinc.org','69409-1'))], included=sorted({f"Patient/{x}" for i in where('DiagnosticReport',lambda r: tok(r['code'],'http://loinc.org','69409-1')) for x in refto(S['DiagnosticReport'][i],'subject')}))
q("_revinclude with _count=1 paging: the include goes with its match only", f"Patient?family=Kihn&_sort=birthdate&_count=1&_revinclude=Condition:subject", order=sorted(kihns,key=lambda i: pt[i]['birthDate'])[:1], included=[f"Condition/{c}" for c in where('Condition',lambda r: sorted(kihns,key=lambda i: pt[i]['birthDate'])[0] in refto(r,'subject'))])
cur=CASES["synthea_date_quantity.json"]
q("birthdate=1976-01-16T10:00:00Z: a one-second search range does not contain a whole day, so eq matches nothing", "Patient?birthdate=1976-01-16T10:00:00Z", dwhere('Patient',bd,'1976-01-16T10:00:00Z'))
q("birthdate=ge1976-01-16T10:00:00Z AND lt1976-02: the day itself ends after that instant", "Patient?birthdate=ge1976-01-16T10:00:00Z&birthdate=lt1976-02", dwhere('Patient',bd,'ge1976-01-16T10:00:00Z','lt1976-02'))
q("value-quantity does not look into components (blood pressure panels carry their values there)", "Observation?code=http://loinc.org|55284-4&value-quantity=gt0", qwhere('55284-4','gt0'))
cur=CASES["synthea_result_control.json"]
q("_total=none: no total", "Patient?address-city=Boston&_total=none&_count=100", ids=boston, body={"total":"$absent"})
cur=CASES["synthea_date_quantity.json"]
q("UCUM-normalised comparison: body height gt1.9 m is gt190 cm", "Observation?code=http://loinc.org|8302-2&value-quantity=gt1.9|http://unitsofmeasure.org|m", qwhere('8302-2','gt190'))
q("UCUM-normalised comparison: body weight ge104000 g is ge104 kg", "Observation?code=http://loinc.org|29463-7&value-quantity=ge104000|http://unitsofmeasure.org|g", qwhere('29463-7','ge104'))

# ---- gen6
cur=CASES["examples_search.json"]
q("name: a Chinese name given only as HumanName.text (张无忌)", "Patient?name=%E5%BC%A0", xw('Patient',lambda r: sw(name_parts(r),'张')))
q("phone token: the value as written, with spaces", "Patient?phone=(03)%205555%206473", xw('Patient',lambda r: any(t.get('system')=='phone' and t.get('value')=='(03) 5555 6473' for t in r.get('telecom',[]))))
q("telecom system|value", "Patient?telecom=phone|555-555-2003", xw('Patient',lambda r: any(t.get('system')=='phone' and t.get('value')=='555-555-2003' for t in r.get('telecom',[]))))
q("email", "Patient?email=p.heuvel@gmail.com", xw('Patient',lambda r: any(t.get('system')=='email' and t.get('value')=='p.heuvel@gmail.com' for t in r.get('telecom',[]))))
q("deceased=true: deceasedDateTime or deceasedBoolean true", "Patient?deceased=true", xw('Patient',lambda r: 'deceasedDateTime' in r or r.get('deceasedBoolean') is True))
q("birthdate=1974-12-25", "Patient?birthdate=1974-12-25", xw('Patient',lambda r: r.get('birthDate')=='1974-12-25'))
dd2=lambda r: parse(r['deceasedDateTime']) if 'deceasedDateTime' in r else None
def xdw(t,getter,*qs):
    a=[];b=[]
    for i,r in EX.get(t,{}).items():
        tg=getter(r)
        if tg is None: continue
        if all(dmatch(tg,x)[0] for x in qs): a.append(i)
        if all(dmatch(tg,x)[1] for x in qs): b.append(i)
    assert sorted(a)==sorted(b),(qs,a,b)
    return sorted(a)
q("death-date with a +10:00 zone: 2015-02-14T13:42:00+10:00 is 03:42 UTC that day", "Patient?death-date=2015-02-14", xdw('Patient',dd2,'2015-02-14'))
q("death-date=2015-02-14T03:42:00Z: the same instant written in UTC", "Patient?death-date=2015-02-14T03:42:00Z", xdw('Patient',dd2,'2015-02-14T03:42:00Z'))
def oeff(r):
    if 'effectiveDateTime' in r: return parse(r['effectiveDateTime'])
    if 'effectivePeriod' in r: return period(r['effectivePeriod'])
    if 'effectiveInstant' in r: return parse(r['effectiveInstant'])
    return None
q("Observation date=2013-04: periods within April 2013; an open-ended period (no end) is not", "Observation?date=2013-04", xdw('Observation',oeff,'2013-04'))
q("Observation date=gt2013-04-04 AND lt2013-04-03: effective periods that start before April 3 and end after April 4", "Observation?date=gt2013-04-04&date=lt2013-04-03", xdw('Observation',oeff,'gt2013-04-04','lt2013-04-03'))
q("has-member: the vital signs panel", "Observation?has-member=Observation/heart-rate", xw('Observation',lambda r: any(m.get('reference')=='Observation/heart-rate' for m in r.get('hasMember',[]))))
q("value-string prefix", "Observation?value-string=mother", xw('Observation',lambda r: sw([r.get('valueString')],'mother')))
q("stored Bundles: type=transaction", "Bundle?type=transaction", xw('Bundle',lambda r: r.get('type')=='transaction'))
q("stored Bundles: identifier system|value", "Bundle?identifier=urn:ietf:rfc:3986|urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", xw('Bundle',lambda r: (r.get('identifier') or {}).get('value')=='urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0'))

# ---- gen7
cur=CASES["synthea_reference.json"]
hcond=where('Condition',lambda r: hoeger in refto(r,'subject'))
q("_has on _id: the patient of one Condition", f"Patient?_has:Condition:patient:_id={hcond[0]}", [hoeger])
q("chain on _id: Condition?subject:Patient._id=...", f"Condition?subject:Patient._id={hoeger}", hcond)
q("Practitioner compartment: /Practitioner/id/Encounter (participant)", f"Practitioner/{stark}/Encounter?_count=100", where('Encounter',lambda r: stark in participants(r)))
q("Encounter compartment: /Encounter/id/Observation", f"Encounter/{enc1}/Observation", O(lambda r: enc1 in refto(r,'encounter')))
q("Encounter compartment: /Encounter/id/Condition", f"Encounter/{cenc}/Condition", where('Condition',lambda r: cenc in refto(r,'encounter')))
cur=CASES["synthea_token.json"]
q("identifier=|value: no system (every Synthea identifier has one)", f"Patient?identifier=|{ssn}", P(lambda r: any(i.get('value')==ssn and not i.get('system') for i in idents(r))))
q("two :not on one parameter AND together", f"Observation?patient={hoeger}&code:not=http://loinc.org|39156-5&code:not=http://loinc.org|8302-2", O(lambda r: hoeger in refto(r,'subject') and not tok(r['code'],'http://loinc.org','39156-5') and not tok(r['code'],'http://loinc.org','8302-2')))
cur=CASES["synthea_date_quantity.json"]
q("value-quantity with the unit only and no code (gt140||mmol/L: sodium)", "Observation?value-quantity=gt140||mmol/L", sorted(set(qwhere('2947-0','gt140',None,'mmol/L'))|set(qwhere('6298-4','gt140',None,'mmol/L'))|set(qwhere('2069-3','gt140',None,'mmol/L'))|set(qwhere('20565-8','gt140',None,'mmol/L'))))
cur=CASES["synthea_result_control.json"]
q("_sort with _count paging and _total: born 1976-01-16 or later, two per page, all pages in order", "Patient?birthdate=ge2000-03-14&_sort=birthdate&_count=2", follow=True, order=sorted(dwhere('Patient',bd,'ge2000-03-14'),key=lambda i: pt[i]['birthDate']))

# ---- gen8
cur=CASES["synthea_reference.json"]
q("$everything?_type=Patient,Condition,Encounter: only those types of the record", f"Patient/{hoeger}/$everything?_type=Patient,Condition,Encounter", ids=[f"Patient/{hoeger}"]+[f"Condition/{i}" for i in where('Condition',lambda r: hoeger in refto(r,'subject'))]+[f"Encounter/{i}" for i in where('Encounter',lambda r: hoeger in refto(r,'subject'))])
q("$everything?_since=2000-01-01: everything was stored by this run, so all of it", f"Patient/{hoeger}/$everything?_since=2000-01-01T00:00:00Z&_count=100", ids=everything)

# ---- gen9
cur=CASES["examples_search.json"]
def lref_ident(ref,system,value):
    i=(ref or {}).get('identifier') or {}
    return i.get('system')==system and i.get('value')==value
q("reference:identifier: a logical reference by identifier (Claim.insurer)", "Claim?insurer:identifier=http://www.bindb.com/bin|123456", xw('Claim',lambda r: lref_ident(r.get('insurer'),'http://www.bindb.com/bin','123456')))
q("_security:not: every Condition but the taboo one", "Condition?_security:not=http://terminology.hl7.org/CodeSystem/v3-ActCode|TBOO", xw('Condition',lambda r: not any(s.get('code')=='TBOO' and s.get('system')=='http://terminology.hl7.org/CodeSystem/v3-ActCode' for s in r.get('meta',{}).get('security',[]))))
q("_profile:below: profiles under a base", "Observation?_profile:below=http://hl7.org/fhir/StructureDefinition/", xw('Observation',lambda r: any(p.startswith('http://hl7.org/fhir/StructureDefinition/') for p in r.get('meta',{}).get('profile',[]))))
cur=CASES["synthea_token.json"]
def compcodes(r): return [c['code'] for c in r.get('component',[])]
q("component-code: blood pressure panels of one patient (systolic component)", f"Observation?component-code=http://loinc.org|8480-6&patient={hoeger}", O(lambda r: hoeger in refto(r,'subject') and any(tok(c['code'],'http://loinc.org','8480-6') for c in r.get('component',[]))))
q("combo-code: code or component code (systolic)", f"Observation?combo-code=http://loinc.org|8480-6&patient={hoeger}", O(lambda r: hoeger in refto(r,'subject') and (tok(r['code'],'http://loinc.org','8480-6') or any(tok(c['code'],'http://loinc.org','8480-6') for c in r.get('component',[])))))
q("Goal lifecycle-status for one patient", f"Goal?lifecycle-status=accepted&patient={pid('Maggio','Louis')}", where('Goal',lambda r: r.get("lifecycleStatus")=="accepted" and pid('Maggio','Louis') in refto(r,'subject')))
cur=CASES["synthea_reference.json"]
heobs=where('ExplanationOfBenefit',lambda r: hoeger in refto(r,'patient'))
q("_include: ExplanationOfBenefit:claim (claims referenced by urn:uuid in the bundle)", f"ExplanationOfBenefit?patient={hoeger}&_include=ExplanationOfBenefit:claim", ids=[f"ExplanationOfBenefit/{i}" for i in heobs], included=sorted({f"Claim/{c}" for i in heobs for c in refto(S['ExplanationOfBenefit'][i],'claim')}))
cur=CASES["synthea_date_quantity.json"]
iss=lambda r: parse(r['issued']) if 'issued' in r else None
q("DiagnosticReport issued (an instant with milliseconds) in a year, one patient", f"DiagnosticReport?patient={hoeger}&issued=2016", dwhere_f('DiagnosticReport',iss,lambda r: hoeger in refto(r,'subject'),'2016'))
auth=lambda r: parse(r['authoredOn']) if 'authoredOn' in r else None
q("MedicationRequest authoredon=ge2015 for one patient", f"MedicationRequest?patient={maggio}&authoredon=ge2015", dwhere_f('MedicationRequest',auth,lambda r: maggio in refto(r,'subject'),'ge2015'))

# ---- gen10
cur=CASES["synthea_result_control.json"]
q("paging with ties: _sort=gender over 7-patient pages returns each of the 70 once", "Patient?_sort=gender&_count=7", follow=True, ids=list(S['Patient']))
q("paging with many ties: one patient's Observations by date, 7 a page, each once", f"Observation?patient={hoeger}&_sort=date&_count=7", follow=True, ids=O(lambda r: hoeger in refto(r,'subject')))
q("paging by _lastUpdated (equal within a transaction), each once", f"Observation?patient={hoeger}&_sort=-_lastUpdated&_count=9", follow=True, ids=O(lambda r: hoeger in refto(r,'subject')))
q("paging with _include: every match once, includes on the pages", f"Encounter?patient={hoeger}&_include=Encounter:participant&_count=2", follow=True, ids=[f"Encounter/{i}" for i in encs_h])
cur=CASES["synthea_string.json"]
cooley=[i for i,r in S['Organization'].items() if r['name']=='COOLEY DICKINSON HOSPITAL INC,THE']
q("an escaped comma (\\,) is part of the value, not an OR", "Organization?name:exact=COOLEY%20DICKINSON%20HOSPITAL%20INC%5C,THE", where('Organization',lambda r: ex([r.get('name')],'COOLEY DICKINSON HOSPITAL INC,THE')))
q("an unescaped comma is an OR of two values", "Organization?name:exact=COOLEY%20DICKINSON%20HOSPITAL%20INC,THE", where('Organization',lambda r: ex([r.get('name')],'COOLEY DICKINSON HOSPITAL INC') or ex([r.get('name')],'THE')))
cur=CASES["synthea_date_quantity.json"]
q("birthdate ge and le the same day equals eq", "Patient?birthdate=ge1976-01-16&birthdate=le1976-01-16", dwhere('Patient',bd,'ge1976-01-16','le1976-01-16'))

out=ROOT+'/tests/conformance/cases/search/data/'
for f,c in CASES.items():
    doc={"name":f[:-5],"purpose":c["purpose"],"load":c["load"],"steps":c["steps"]}
    open(out+f,'w').write(json.dumps(doc,indent=1,ensure_ascii=False)+"\n")
    n=sum(1 for s in c['steps'] if 'ids' in s['expect'] or 'idsInOrder' in s['expect'])
    print(f,len(c['steps']),'steps,',n,'with ids')
