#!/usr/bin/env python3
"""test_oai_harvest.py: danqing's OAI-PMH repository harvested by a client no one here wrote,
Debian's libhttp-oai-perl (HTTP::OAI::Harvester, which follows resumption tokens itself),
over all six verbs on a catalog of the sample collection plus 300 synthetic records; then
every LIDO record of a full ListRecords harvest validated with xmllint against the LIDO 1.0
XSD. Prints the verbs the harvester exercised and LIDO records valid / total.

The LIDO XSD is not in this repository: copy lido-v1.0.xsd with the xml.xsd, xlink.xsd and
gml/ it imports (github.com/nfdi4objects/lido-schema keeps them with relative imports;
checked at 1ac0aa8) into .cache/lido/ of the repository root (git-ignored). Without it this
test FAILS with that message."""
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dqnet  # noqa: E402

SYNTHETIC = 300

PERL = r'''
use strict; use warnings;
use HTTP::OAI;
use HTTP::OAI::Metadata::OAI_DC;
my $base = shift;
my $h = HTTP::OAI::Harvester->new(baseURL => $base, resume => 1);
sub fail { print "FAIL $_[0]: $_[1]\n"; }
my $r = $h->Identify;
if ($r->is_success && !$r->errors) {
  printf "verb Identify ok %s %s %s\n", $r->protocolVersion, $r->deletedRecord, $r->granularity;
} else { fail("Identify", $r->message); }
$r = $h->ListMetadataFormats;
my @f = ();
while (my $mf = $r->next) { push @f, $mf->metadataPrefix; }
if ($r->is_success && !$r->errors) { print "verb ListMetadataFormats ok ", join(",", sort @f), "\n"; }
else { fail("ListMetadataFormats", $r->message); }
my $ns = 0;
$r = $h->ListSets(onRecord => sub { $ns++; });
if ($r->is_success && !$r->errors) { print "verb ListSets ok $ns\n"; } else { fail("ListSets", $r->message); }
# The harvester follows resumptionTokens itself and hands every item of every page to
# onRecord (next() would see only the last page).
my ($ni, $first) = (0, undef);
$r = $h->ListIdentifiers(metadataPrefix => 'oai_dc',
                         onRecord => sub { $ni++; $first //= $_[0]->identifier; });
if ($r->is_success && !$r->errors) { print "verb ListIdentifiers ok $ni\n"; }
else { fail("ListIdentifiers", $r->message); }
my ($nr, $titled) = (0, 0);
$r = $h->ListRecords(metadataPrefix => 'oai_dc',
                     handlers => {metadata => 'HTTP::OAI::Metadata::OAI_DC'},
                     onRecord => sub {
                       my $rec = shift;
                       $nr++;
                       $titled++ if $rec->metadata && @{$rec->metadata->dc->{title} || []};
                     });
if ($r->is_success && !$r->errors) { print "verb ListRecords ok $nr $titled\n"; }
else { fail("ListRecords", $r->message); }
my $nl = 0;
$r = $h->ListRecords(metadataPrefix => 'lido', set => 'dynasty:song',
                     onRecord => sub { $nl++; });
if ($r->is_success && !$r->errors) { print "set dynasty:song lido $nl\n"; }
else { fail("ListRecords lido", $r->message); }
$r = $h->GetRecord(identifier => $first, metadataPrefix => 'oai_dc');
my $rec = $r->next;
if ($r->is_success && !$r->errors && $rec && $rec->identifier eq $first) {
  print "verb GetRecord ok ", $rec->identifier, "\n";
} else { fail("GetRecord", $r->message); }
$r = $h->GetRecord(identifier => 'oai:nowhere:x', metadataPrefix => 'oai_dc');
my @e = $r->errors;
print "error ", (@e ? $e[0]->code : "none"), "\n";
print "done\n";
'''


def lido_records(cat):
    """Every <lido:lido> element text of a full ListRecords harvest, following tokens."""
    recs, q = [], "verb=ListRecords&metadataPrefix=lido"
    while True:
        _, _, body = cat.get("/oai?" + q)
        text = body.decode()
        recs += re.findall(r"<lido:lido .*?</lido:lido>", text, re.S)
        m = re.search(r"<resumptionToken[^>]*>([^<]+)</resumptionToken>", text)
        if not m:
            return recs
        q = "verb=ListRecords&resumptionToken=" + urllib.parse.quote(m.group(1))


def main():
    c = dqnet.Counter()
    xsd = os.path.join(dqnet.ROOT, ".cache", "lido", "lido-v1.0.xsd")
    if not os.path.exists(xsd):
        print(f"  the LIDO XSD is missing: {xsd} (see this file's header)")
        # Required under `make validate` (DQ_VALIDATE=1); on a clean clone (`make check`) the
        # harvest runs and the records are checked for well-formedness only, said as such.
        if os.environ.get("DQ_VALIDATE") == "1":
            c.check(False, "LIDO 1.0 XSD present")
            return c.summary()
        print("  NOT RUN: LIDO XSD validation (run `make validate` with the XSD in place)")
        xsd = None
    with dqnet.Catalog(synthetic=SYNTHETIC) as cat:
        total = 16 + SYNTHETIC
        with tempfile.NamedTemporaryFile("w", suffix=".pl", delete=False) as f:
            f.write(PERL)
            pl = f.name
        try:
            out = subprocess.run(["perl", pl, cat.base + "/oai"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, timeout=600).stdout
        finally:
            os.unlink(pl)
        print("    " + out.strip().replace("\n", "\n    "))
        verbs = re.findall(r"^verb (\w+) ok", out, re.M)
        c.check("FAIL" not in out and out.endswith("done\n"),
                "the harvester ran to the end and reported no failure")
        c.check(re.search(r"^verb Identify ok 2\.0 persistent YYYY-MM-DDThh:mm:ssZ$", out, re.M),
                "Identify: version, deletedRecord, granularity")
        c.check(re.search(r"^verb ListMetadataFormats ok lido,oai_dc$", out, re.M),
                "ListMetadataFormats: lido and oai_dc")
        c.check(re.search(r"^verb ListSets ok (\d+)$", out, re.M) and
                int(re.search(r"^verb ListSets ok (\d+)$", out, re.M).group(1)) >= 20,
                "ListSets: dynasties and object types")
        c.check(f"verb ListIdentifiers ok {total}\n" in out,
                f"ListIdentifiers: {total} headers through resumption tokens")
        c.check(f"verb ListRecords ok {total} {total}\n" in out,
                f"ListRecords oai_dc: {total} records, each with a dc:title")
        song = re.search(r"^set dynasty:song lido (\d+)$", out, re.M)
        # The synthetic records are song when i % 5 == 0; the sample adds its own song works.
        c.check(song and int(song.group(1)) >= SYNTHETIC // 5 and int(song.group(1)) < total,
                "a set-selective LIDO harvest")
        c.check(re.search(r"^verb GetRecord ok oai:127\.0\.0\.1:", out, re.M), "GetRecord")
        c.check("error idDoesNotExist" in out, "an unknown identifier is idDoesNotExist")
        print(f"oai-pmh verbs exercised by HTTP::OAI::Harvester: {len(set(verbs))}/6 "
              f"({', '.join(sorted(set(verbs)))})")
        c.check(len(set(verbs)) == 6, "all six verbs exercised by the third-party harvester")

        recs = lido_records(cat)
        c.check(len(recs) == total, f"LIDO harvest has {total} records (got {len(recs)})")
        with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
            # One record per line, so that xmllint's line numbers name the records.
            f.write('<?xml version="1.0" encoding="UTF-8"?>\n<lido:lidoWrap xmlns:lido='
                    '"http://www.lido-schema.org" xmlns:xsi='
                    '"http://www.w3.org/2001/XMLSchema-instance">\n')
            for r in recs:
                f.write(r.replace("\n", " ") + "\n")
            f.write("</lido:lidoWrap>\n")
            wrap = f.name
        try:
            v = subprocess.run(["xmllint", "--noout", *(["--schema", xsd] if xsd else []), wrap],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        finally:
            os.unlink(wrap)
        bad_lines = set(re.findall(r":(\d+): element", v.stdout))
        valid = len(recs) - len(bad_lines)
        for line in v.stdout.splitlines()[:5]:
            print("    " + line[:300])
        what = "LIDO 1.0 XSD" if xsd else "well-formed XML only, no XSD"
        print(f"lido valid {valid}/{len(recs)} (xmllint, {what})")
        c.check(v.returncode == 0 and valid == len(recs) and recs,
                "every LIDO record is valid" if xsd else "every LIDO record is well-formed XML")
    return c.summary()


if __name__ == "__main__":
    sys.exit(main())
