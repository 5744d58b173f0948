// validate.js -- checks `pdp grants export` output against AWS's own API
// models, without sending anything.
//
//   node validate.js SDK_DIR LAKEFORMATION.json IAM.json
//   node validate.js SDK_DIR --self-test LAKEFORMATION.json IAM.json
//
// SDK_DIR is an aws-sdk v2 installation (npm install --prefix build/npm
// aws-sdk@2). Every CreateDataCellsFilter and BatchGrantPermissions body is
// passed through the SDK's parameter validation for the operation's input
// shape (required members, no unknown members, types, and min/max/pattern/
// enum where the shipped model has them) and built into an HTTP request
// (req.build(): validate + serialise, no signing, no network). The shipped
// model is minified (it drops lengths, patterns and enums), so the
// constraints of the Lake Formation API reference that matter here are
// checked on top: name/id lengths and characters, permission values, at
// most 20 entries per request, one resource kind per entry, column lists,
// filter length, filters referenced by grants being defined. IAM documents
// go through the SDK's validation of PutRolePolicy/PutUserPolicy/
// PutGroupPolicy and a structural check of the policy grammar (Version,
// Statement, Sid, Effect, Action, Resource as Glue ARNs, inline size).
//
// --self-test first feeds deliberately broken copies of the documents and
// requires each one to be refused, so the validator is shown to be able to
// fail. Closing line: "N passed, N failed".
'use strict';

const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
if (args.length < 3) {
  console.error('usage: node validate.js SDK_DIR [--self-test] LF.json IAM.json');
  process.exit(2);
}
const AWS = require(path.resolve(args[0]));
const selfTest = args[1] === '--self-test';
const [lfPath, iamPath] = selfTest ? args.slice(2) : args.slice(1);

const creds = new AWS.Credentials('AKIDVALIDATEONLY', 'not-a-secret'); // never used to sign
const validation = { min: true, max: true, pattern: true, enum: true };
const lf = new AWS.LakeFormation({ region: 'us-east-1', paramValidation: validation, credentials: creds });
const iam = new AWS.IAM({ region: 'us-east-1', paramValidation: validation, credentials: creds });

let passed = 0, failed = 0;
function report(ok, what, errors) {
  if (ok) {
    passed++;
  } else {
    failed++;
    console.log(`FAIL ${what}`);
    for (const e of errors) console.log(`     ${e}`);
  }
}

// The SDK: validator on the input shape, then build the request.
function sdkErrors(client, op, params) {
  const errs = [];
  const shape = client.api.operations[op].input;
  try {
    new AWS.ParamValidator(validation).validate(shape, params);
  } catch (e) {
    for (const x of e.errors || [e]) errs.push(`${x.code}: ${x.message}`);
  }
  const req = client.makeRequest(op, params);
  req.build();
  if (req.response.error) errs.push(`build: ${req.response.error.code}: ${req.response.error.message}`);
  return errs;
}

// ---- Lake Formation API reference constraints ---------------------------------
// NameString / CatalogIdString / Identifier: 1-255 characters of
// [\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]
const NAME_RE = /^[\u0020-\uD7FF\uE000-\uFFFD\uD800-\uDFFF\t]{1,255}$/;
const PERMISSIONS = new Set(['ALL', 'SELECT', 'ALTER', 'DROP', 'DELETE', 'INSERT', 'DESCRIBE',
  'CREATE_DATABASE', 'CREATE_TABLE', 'DATA_LOCATION_ACCESS', 'CREATE_LF_TAG', 'ASSOCIATE',
  'GRANT_WITH_LF_TAG_EXPRESSION', 'CREATE_LF_TAG_EXPRESSION', 'CREATE_CATALOG', 'SUPER_USER']);
const PRINCIPAL_RE = /^arn:aws[a-z-]*:iam::\d{12}:(role|user|group)\/[\w+=,.@\/-]+$/;

function name(errs, what, v) {
  if (typeof v !== 'string' || !NAME_RE.test(v)) errs.push(`${what}: not a 1-255 character name: ${JSON.stringify(v)}`);
}

function columns(errs, what, cols) {
  if (!Array.isArray(cols) || cols.length === 0) { errs.push(`${what}: empty or missing column list`); return; }
  cols.forEach((c, i) => name(errs, `${what}[${i}]`, c));
  if (new Set(cols).size !== cols.length) errs.push(`${what}: duplicate columns`);
  const sorted = [...cols].sort();
  if (sorted.join('\0') !== cols.join('\0')) errs.push(`${what}: not sorted`);
}

function onlyKeys(errs, what, o, keys) {
  for (const k of Object.keys(o || {})) if (!keys.includes(k)) errs.push(`${what}: unexpected key ${k}`);
}

function filterErrors(body) {
  const errs = [];
  const td = body.TableData || {};
  ['TableCatalogId', 'DatabaseName', 'TableName', 'Name'].forEach((k) => name(errs, `TableData.${k}`, td[k]));
  if (!/^meshpdp-[0-9a-f]{16}$/.test(td.Name || '')) errs.push(`TableData.Name: not meshpdp-<16 hex>: ${td.Name}`);
  const rf = td.RowFilter || {};
  if (('FilterExpression' in rf) === ('AllRowsWildcard' in rf)) errs.push('RowFilter: exactly one of FilterExpression, AllRowsWildcard');
  if ('FilterExpression' in rf && !(typeof rf.FilterExpression === 'string' && rf.FilterExpression.length > 0 && rf.FilterExpression.length < 2048))
    errs.push('RowFilter.FilterExpression: must be 1-2047 characters');
  if ('ColumnWildcard' in td) errs.push('ColumnWildcard: the export must name its columns');
  columns(errs, 'TableData.ColumnNames', td.ColumnNames);
  return errs;
}

function entryErrors(e, filters, seen) {
  const errs = [];
  onlyKeys(errs, 'entry', e, ['Id', 'Principal', 'Resource', 'Permissions']);
  name(errs, 'Id', e.Id);
  if (seen.has(e.Id)) errs.push(`Id ${e.Id} repeated in the request`);
  seen.add(e.Id);
  const pr = (e.Principal || {}).DataLakePrincipalIdentifier;
  if (typeof pr !== 'string' || pr.length < 1 || pr.length > 255 || !PRINCIPAL_RE.test(pr)) errs.push(`Principal: not an IAM principal ARN: ${pr}`);
  const perms = e.Permissions;
  if (!Array.isArray(perms) || perms.length !== 1 || !PERMISSIONS.has(perms[0])) errs.push(`Permissions: ${JSON.stringify(perms)}`);
  const kinds = Object.keys(e.Resource || {});
  if (kinds.length !== 1) { errs.push(`Resource: exactly one kind, got ${kinds}`); return errs; }
  const r = e.Resource[kinds[0]];
  const perm = (perms || [])[0];
  if (kinds[0] === 'Table') {
    if (perm !== 'DESCRIBE') errs.push('Table resource: DESCRIBE only');
    onlyKeys(errs, 'Table', r, ['CatalogId', 'DatabaseName', 'Name']);
    name(errs, 'Table.DatabaseName', r.DatabaseName); name(errs, 'Table.Name', r.Name);
  } else if (kinds[0] === 'TableWithColumns') {
    if (perm !== 'SELECT') errs.push('TableWithColumns: SELECT only');
    if ('ColumnWildcard' in r) errs.push('TableWithColumns: no wildcard');
    name(errs, 'DatabaseName', r.DatabaseName); name(errs, 'Name', r.Name);
    columns(errs, 'ColumnNames', r.ColumnNames);
  } else if (kinds[0] === 'DataCellsFilter') {
    if (perm !== 'SELECT') errs.push('DataCellsFilter: SELECT only');
    const key = [r.TableCatalogId, r.DatabaseName, r.TableName, r.Name].join('\0');
    if (!filters.has(key)) errs.push(`DataCellsFilter ${r.Name}: not created by a CreateDataCellsFilter body`);
  } else {
    errs.push(`Resource kind ${kinds[0]} is not one the export uses`);
  }
  if ('CatalogId' in r) name(errs, 'CatalogId', r.CatalogId);
  return errs;
}

function checkLakeFormation(doc, label) {
  let ok = true;
  const note = (good, what, errs) => { ok = ok && good; report(good, `${label}: ${what}`, errs); };
  onlyKeys([], 'doc', doc, []);
  const topErrs = [];
  onlyKeys(topErrs, 'document', doc, ['meshpdp', 'CreateDataCellsFilter', 'BatchGrantPermissions', 'gateway_only']);
  if (!Array.isArray(doc.CreateDataCellsFilter) || !Array.isArray(doc.BatchGrantPermissions)) topErrs.push('missing request lists');
  note(topErrs.length === 0, 'document shape', topErrs);
  const filters = new Set();
  (doc.CreateDataCellsFilter || []).forEach((body, i) => {
    const errs = sdkErrors(lf, 'createDataCellsFilter', body).concat(filterErrors(body));
    const td = body.TableData || {};
    const key = [td.TableCatalogId, td.DatabaseName, td.TableName, td.Name].join('\0');
    if (filters.has(key)) errs.push('filter defined twice');
    filters.add(key);
    note(errs.length === 0, `CreateDataCellsFilter[${i}]`, errs);
  });
  (doc.BatchGrantPermissions || []).forEach((body, i) => {
    const errs = sdkErrors(lf, 'batchGrantPermissions', body);
    const entries = body.Entries || [];
    if (entries.length < 1 || entries.length > 20) errs.push(`${entries.length} entries: the API takes 1 to 20`);
    if ('CatalogId' in body) name(errs, 'CatalogId', body.CatalogId);
    const seen = new Set();
    entries.forEach((e, j) => entryErrors(e, filters, seen).forEach((x) => errs.push(`Entries[${j}] ${x}`)));
    note(errs.length === 0, `BatchGrantPermissions[${i}] (${entries.length} entries)`, errs);
  });
  return ok;
}

// ---- IAM -------------------------------------------------------------------------
const ACTIONS = new Set(['lakeformation:GetDataAccess', 'glue:GetDatabase', 'glue:GetTable',
  'glue:GetPartition', 'glue:GetPartitions', 'glue:BatchGetPartition']);
const GLUE_ARN_RE = /^arn:aws[a-z-]*:glue:([a-z0-9-]+|\*):(\d{12}|\*):(catalog|database\/[^\/*]+|table\/[^\/*]+\/[^\/*]+)$/;
const IAM_NAME_RE = /^[\w+=,.@-]+$/;
const INLINE_MAX = { role: 10240, user: 2048, group: 5120 };
const OPS = { role: ['putRolePolicy', 'RoleName', 64], user: ['putUserPolicy', 'UserName', 64], group: ['putGroupPolicy', 'GroupName', 128] };

function policyErrors(doc) {
  const errs = [];
  onlyKeys(errs, 'policy', doc, ['Version', 'Statement']);
  if (doc.Version !== '2012-10-17') errs.push(`Version ${doc.Version}`);
  if (!Array.isArray(doc.Statement) || doc.Statement.length === 0) { errs.push('Statement: a non-empty list'); return errs; }
  const sids = new Set();
  doc.Statement.forEach((st, i) => {
    const w = `Statement[${i}]`;
    onlyKeys(errs, w, st, ['Sid', 'Effect', 'Action', 'Resource']);
    if (typeof st.Sid !== 'string' || !/^[A-Za-z0-9]+$/.test(st.Sid) || sids.has(st.Sid)) errs.push(`${w}.Sid ${st.Sid}`);
    sids.add(st.Sid);
    if (st.Effect !== 'Allow') errs.push(`${w}.Effect ${st.Effect}`);
    if (!Array.isArray(st.Action) || st.Action.length === 0 || !st.Action.every((a) => ACTIONS.has(a))) errs.push(`${w}.Action ${JSON.stringify(st.Action)}`);
    const dataAccess = Array.isArray(st.Action) && st.Action.length === 1 && st.Action[0] === 'lakeformation:GetDataAccess';
    if (st.Resource === '*') {
      if (!dataAccess) errs.push(`${w}: Resource "*" only for lakeformation:GetDataAccess (no resource-level permissions)`);
    } else if (!Array.isArray(st.Resource) || st.Resource.length === 0 || !st.Resource.every((r) => GLUE_ARN_RE.test(r))) {
      errs.push(`${w}.Resource: not a list of Glue catalog/database/table ARNs: ${JSON.stringify(st.Resource)}`);
    } else if (dataAccess) {
      errs.push(`${w}: GetDataAccess takes Resource "*"`);
    } else if (new Set(st.Resource).size !== st.Resource.length) {
      errs.push(`${w}.Resource: duplicates`);
    }
  });
  return errs;
}

function checkIam(doc, label) {
  let ok = true;
  const note = (good, what, errs) => { ok = ok && good; report(good, `${label}: ${what}`, errs); };
  const top = [];
  onlyKeys(top, 'document', doc, ['meshpdp', 'policies']);
  if (!Array.isArray(doc.policies)) top.push('policies: a list');
  note(top.length === 0, 'document shape', top);
  (doc.policies || []).forEach((p, i) => {
    const errs = [];
    onlyKeys(errs, 'item', p, ['principal', 'groups', 'attach_to', 'policy_name', 'policy_document']);
    const at = p.attach_to || {};
    const op = OPS[at.type];
    if (!op) { errs.push(`attach_to.type ${at.type}`); note(false, `policies[${i}]`, errs); return; }
    if (typeof at.name !== 'string' || !IAM_NAME_RE.test(at.name) || at.name.length > op[2]) errs.push(`attach_to.name ${at.name}`);
    if (!String(p.principal).endsWith('/' + at.name) || !PRINCIPAL_RE.test(p.principal)) errs.push(`principal ${p.principal} does not name ${at.type} ${at.name}`);
    if (typeof p.policy_name !== 'string' || !IAM_NAME_RE.test(p.policy_name) || p.policy_name.length > 128) errs.push(`policy_name ${p.policy_name}`);
    const text = JSON.stringify(p.policy_document);
    const params = { [op[1]]: at.name, PolicyName: p.policy_name, PolicyDocument: text };
    sdkErrors(iam, op[0], params).forEach((x) => errs.push(x));
    if (text.length > INLINE_MAX[at.type]) errs.push(`inline policy of ${text.length} characters, the ${at.type} limit is ${INLINE_MAX[at.type]}`);
    policyErrors(p.policy_document).forEach((x) => errs.push(x));
    note(errs.length === 0, `policies[${i}] ${p.principal}`, errs);
  });
  return ok;
}

// ---- self test: each mutation must be refused --------------------------------------
function clone(v) { return JSON.parse(JSON.stringify(v)); }

function selfTests(lfDoc, iamDoc) {
  const firstEntry = (d) => d.BatchGrantPermissions[0].Entries[0];
  const selectEntry = (d) => d.BatchGrantPermissions.flatMap((r) => r.Entries).find((e) => e.Resource.TableWithColumns);
  const lfMutations = {
    'entry without Id': (d) => { delete firstEntry(d).Id; },
    'unknown key in an entry': (d) => { firstEntry(d).Grantor = 'x'; },
    'Permissions not a list': (d) => { firstEntry(d).Permissions = 'SELECT'; },
    'unknown permission': (d) => { firstEntry(d).Permissions = ['READ']; },
    '21 entries in one request': (d) => { const r = d.BatchGrantPermissions[0]; while (r.Entries.length < 21) r.Entries.push(clone(r.Entries[0])); },
    'TableWithColumns without DatabaseName': (d) => { delete selectEntry(d).Resource.TableWithColumns.DatabaseName; },
    'column wildcard': (d) => { selectEntry(d).Resource.TableWithColumns.ColumnWildcard = {}; },
    'empty column name': (d) => { selectEntry(d).Resource.TableWithColumns.ColumnNames.push(''); },
    'filter without TableCatalogId': (d) => { delete d.CreateDataCellsFilter[0].TableData.TableCatalogId; },
    'filter expression of 2048 characters': (d) => { d.CreateDataCellsFilter[0].TableData.RowFilter.FilterExpression = 'x'.repeat(2048); },
    'grant on an undefined filter': (d) => { d.CreateDataCellsFilter[0].TableData.Name = 'meshpdp-0000000000000000'; },
    'two resource kinds': (d) => { selectEntry(d).Resource.Table = { DatabaseName: 'a', Name: 'b' }; },
  };
  const iamMutations = {
    'wrong Version': (d) => { d.policies[0].policy_document.Version = '2008-10-17'; },
    'glue action on "*"': (d) => { d.policies[0].policy_document.Statement[1].Resource = '*'; },
    'write action': (d) => { d.policies[0].policy_document.Statement[1].Action.push('glue:DeleteTable'); },
    'role name with a space': (d) => { d.policies[0].attach_to.name = 'my role'; },
    'missing policy name': (d) => { delete d.policies[0].policy_name; },
    'Deny effect': (d) => { d.policies[0].policy_document.Statement[0].Effect = 'Deny'; },
  };
  let refused = 0, accepted = 0;
  const run = (muts, base, check, label) => {
    for (const [what, mutate] of Object.entries(muts)) {
      const d = clone(base);
      mutate(d);
      const savedP = passed, savedF = failed, log = console.log;
      console.log = () => {};
      const ok = check(d, label);
      console.log = log;
      passed = savedP; failed = savedF;
      if (ok) { accepted++; console.log(`FAIL self-test: ${label} accepted "${what}"`); } else refused++;
    }
  };
  run(lfMutations, lfDoc, checkLakeFormation, 'lakeformation');
  run(iamMutations, iamDoc, checkIam, 'iam');
  report(accepted === 0, `self-test: ${refused} broken documents refused, ${accepted} accepted`, []);
  if (accepted === 0) console.log(`ok   self-test: ${refused} broken documents refused`);
}

const lfDoc = JSON.parse(fs.readFileSync(lfPath, 'utf8'));
const iamDoc = JSON.parse(fs.readFileSync(iamPath, 'utf8'));
if (selfTest) selfTests(lfDoc, iamDoc);
const before = passed;
checkLakeFormation(lfDoc, 'lakeformation');
checkIam(iamDoc, 'iam');
console.log(`ok   ${passed - before} request bodies and documents checked (aws-sdk ${AWS.VERSION})`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
