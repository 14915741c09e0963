/*
 * test_oai.c: the OAI-PMH 2.0 request parser and XML writers of lod/oai.c: every verb with
 * its required and allowed arguments (§4), each error code of §3.6 from the class of bad
 * request that should give it, from/until granularity and order (§3.3), resumption tokens
 * that round-trip and tokens that were tampered with, identifiers, and XML escaping.
 */
#include "dq_test.h"

#include "lod/lod.h"

static int parse(const char *q, dq_oai_req_t *r)
{
    char msg[256];
    return dq_oai_parse(q, strlen(q), r, msg, sizeof(msg));
}

DQ_TEST(verbs_and_arguments)
{
    dq_oai_req_t r;
    DQ_CHECK(parse("verb=Identify", &r) == DQ_OAI_OK && r.verb == DQ_OAI_IDENTIFY);
    DQ_CHECK(parse("verb=ListMetadataFormats", &r) == DQ_OAI_OK);
    DQ_CHECK(parse("verb=ListMetadataFormats&identifier=oai%3Ah%3Ax", &r) == DQ_OAI_OK);
    DQ_CHECK_STR(r.identifier, "oai:h:x");
    DQ_CHECK(parse("verb=ListSets", &r) == DQ_OAI_OK && r.verb == DQ_OAI_LIST_SETS);
    DQ_CHECK(parse("verb=ListRecords&metadataPrefix=lido", &r) == DQ_OAI_OK);
    DQ_CHECK(r.verb == DQ_OAI_LIST_RECORDS && r.prefix == DQ_OAI_LIDO);
    DQ_CHECK(parse("metadataPrefix=oai_dc&verb=ListIdentifiers&set=dynasty%3Asong", &r) ==
             DQ_OAI_OK);
    DQ_CHECK(r.prefix == DQ_OAI_DC && r.set_kind == DQ_OAI_SET_DYNASTY);
    DQ_CHECK_STR(r.set_key, "song");
    DQ_CHECK(parse("verb=ListIdentifiers&metadataPrefix=oai_dc&set=type", &r) == DQ_OAI_OK);
    DQ_CHECK(r.set_kind == DQ_OAI_SET_TYPE_ALL);
    /* An unknown set is not an argument error: it matches no record (noRecordsMatch). */
    DQ_CHECK(parse("verb=ListIdentifiers&metadataPrefix=oai_dc&set=colour%3Ared", &r) ==
             DQ_OAI_OK);
    DQ_CHECK(r.set_kind == -1);
    DQ_CHECK(parse("verb=GetRecord&identifier=oai%3Ah%3Ax&metadataPrefix=oai_dc", &r) ==
             DQ_OAI_OK);
    DQ_CHECK(r.verb == DQ_OAI_GET_RECORD);
}

DQ_TEST(bad_verb)
{
    dq_oai_req_t r;
    DQ_CHECK(parse("", &r) == DQ_OAI_BAD_VERB);
    DQ_CHECK(parse("metadataPrefix=oai_dc", &r) == DQ_OAI_BAD_VERB);
    DQ_CHECK(parse("verb=Frobnicate", &r) == DQ_OAI_BAD_VERB);
    DQ_CHECK(parse("verb=identify", &r) == DQ_OAI_BAD_VERB); /* case matters */
    DQ_CHECK(parse("verb=Identify&verb=Identify", &r) == DQ_OAI_BAD_VERB);
    DQ_CHECK(parse("verb", &r) == DQ_OAI_BAD_VERB);
    DQ_CHECK(parse("verb=Ident%ZZify", &r) == DQ_OAI_BAD_VERB);
}

DQ_TEST(bad_argument)
{
    dq_oai_req_t r;
    char msg[256];
    DQ_CHECK(parse("verb=Identify&foo=1", &r) == DQ_OAI_BAD_ARGUMENT);
    DQ_CHECK(parse("verb=Identify&metadataPrefix=oai_dc", &r) == DQ_OAI_BAD_ARGUMENT);
    DQ_CHECK(parse("verb=ListRecords", &r) == DQ_OAI_BAD_ARGUMENT);        /* no prefix */
    DQ_CHECK(parse("verb=GetRecord&metadataPrefix=oai_dc", &r) == DQ_OAI_BAD_ARGUMENT);
    DQ_CHECK(parse("verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=lido", &r) ==
             DQ_OAI_BAD_ARGUMENT);
    DQ_CHECK(parse("verb=ListRecords&metadataPrefix=oai_dc&from=2026-13-01", &r) ==
             DQ_OAI_BAD_ARGUMENT);
    DQ_CHECK(parse("verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01T10:00:00", &r) ==
             DQ_OAI_BAD_ARGUMENT); /* no Z */
    DQ_CHECK(parse("verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01&until=2026-02-01T00:"
                   "00:00Z",
                   &r) == DQ_OAI_BAD_ARGUMENT); /* mixed granularity */
    DQ_CHECK(parse("verb=ListRecords&metadataPrefix=oai_dc&from=2026-02-01&until=2026-01-01",
                   &r) == DQ_OAI_BAD_ARGUMENT); /* reversed */
    DQ_CHECK(parse("verb=ListRecords&metadataPrefix=oai_dc&resumptionToken=00", &r) ==
             DQ_OAI_BAD_ARGUMENT); /* the token is exclusive */
    DQ_CHECK(parse("verb=ListRecords&metadataPrefix=oai_dc&from=", &r) == DQ_OAI_BAD_ARGUMENT);
    /* The message says why. */
    DQ_CHECK(dq_oai_parse("verb=Identify&x=1", 17, &r, msg, sizeof(msg)) == DQ_OAI_BAD_ARGUMENT);
    DQ_CHECK(strstr(msg, "'x'") != NULL);
    /* A NUL or control byte in a value is malformed, not cut short. */
    DQ_CHECK(parse("verb=ListRecords&metadataPrefix=oai_dc%00", &r) == DQ_OAI_BAD_ARGUMENT);
    /* Parsing stops at len: the text beyond is not read. */
    DQ_CHECK(dq_oai_parse("verb=Identify&junk", 13, &r, msg, sizeof(msg)) == DQ_OAI_OK);
}

DQ_TEST(format_and_dates)
{
    dq_oai_req_t r;
    DQ_CHECK(parse("verb=ListRecords&metadataPrefix=marc21", &r) ==
             DQ_OAI_CANNOT_DISSEMINATE_FORMAT);
    DQ_CHECK(parse("verb=GetRecord&identifier=x&metadataPrefix=mods", &r) ==
             DQ_OAI_CANNOT_DISSEMINATE_FORMAT);
    /* A day widens to its first and last second; '+' in a form value is a space (and a
     * space is no date). */
    DQ_CHECK(parse("verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01&until=2026-01-31",
                   &r) == DQ_OAI_OK);
    DQ_CHECK_STR(r.from, "2026-01-01T00:00:00Z");
    DQ_CHECK_STR(r.until, "2026-01-31T23:59:59Z");
    DQ_CHECK(parse("verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01T05:06:07Z", &r) ==
             DQ_OAI_OK);
    DQ_CHECK_STR(r.from, "2026-01-01T05:06:07Z");
    DQ_CHECK(parse("verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01+05:06:07Z", &r) ==
             DQ_OAI_BAD_ARGUMENT);
    DQ_CHECK(parse("verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01T24:00:00Z", &r) ==
             DQ_OAI_BAD_ARGUMENT);
}

DQ_TEST(resumption_tokens)
{
    dq_oai_req_t r, back;
    DQ_REQUIRE(parse("verb=ListRecords&metadataPrefix=lido&set=type%3Ahandscroll&from=2026-01-"
                     "01&until=2026-12-31",
                     &r) == DQ_OAI_OK);
    dq_buf_t tok = {0}, q = {0};
    dq_oai_token(&r, "dq-2026-0100", 100, &tok);
    dq_buf_printf(&q, "verb=ListRecords&resumptionToken=%s", tok.data);
    DQ_CHECK(parse(q.data, &back) == DQ_OAI_OK);
    DQ_CHECK(back.resumed && back.cursor == 100 && back.prefix == DQ_OAI_LIDO);
    DQ_CHECK(back.set_kind == DQ_OAI_SET_TYPE);
    DQ_CHECK_STR(back.set_key, "handscroll");
    DQ_CHECK_STR(back.after, "dq-2026-0100");
    DQ_CHECK_STR(back.from, "2026-01-01T00:00:00Z");
    DQ_CHECK_STR(back.until, "2026-12-31T23:59:59Z");
    /* The token of ListIdentifiers works for that verb; any token for ListSets is bad. */
    dq_buf_reset(&q);
    dq_buf_printf(&q, "verb=ListSets&resumptionToken=%s", tok.data);
    DQ_CHECK(parse(q.data, &back) == DQ_OAI_BAD_RESUMPTION_TOKEN);
    /* Tampered: odd length, not hex, a flipped byte that breaks the structure, too long. */
    DQ_CHECK(parse("verb=ListRecords&resumptionToken=abc", &back) == DQ_OAI_BAD_RESUMPTION_TOKEN);
    DQ_CHECK(parse("verb=ListRecords&resumptionToken=zz", &back) == DQ_OAI_BAD_RESUMPTION_TOKEN);
    tok.data[0] = tok.data[0] == '3' ? '4' : '3'; /* the version "1" is now something else */
    dq_buf_reset(&q);
    dq_buf_printf(&q, "verb=ListRecords&resumptionToken=%s", tok.data);
    DQ_CHECK(parse(q.data, &back) == DQ_OAI_BAD_RESUMPTION_TOKEN);
    dq_buf_reset(&q);
    dq_buf_puts(&q, "verb=ListRecords&resumptionToken=");
    for (int i = 0; i < 500; i++)
        dq_buf_puts(&q, "31");
    DQ_CHECK(parse(q.data, &back) == DQ_OAI_BAD_RESUMPTION_TOKEN);
    dq_buf_free(&tok);
    dq_buf_free(&q);
}

DQ_TEST(identifiers)
{
    dq_buf_t b = {0};
    dq_oai_identifier("http://museum.example.org:8080", "dq-2026-0001", &b);
    DQ_CHECK_STR(b.data, "oai:museum.example.org:dq-2026-0001");
    char id[64];
    DQ_CHECK(dq_oai_identifier_parse("http://museum.example.org", b.data, id, sizeof(id)) == 0);
    DQ_CHECK_STR(id, "dq-2026-0001");
    DQ_CHECK(dq_oai_identifier_parse("http://other.org", b.data, id, sizeof(id)) < 0);
    DQ_CHECK(dq_oai_identifier_parse("http://museum.example.org", "oai:museum.example.org:", id,
                                     sizeof(id)) < 0);
    DQ_CHECK(dq_oai_identifier_parse("http://museum.example.org", "dq-2026-0001", id,
                                     sizeof(id)) < 0);
    dq_buf_free(&b);
}

DQ_TEST(xml_escaping_and_envelope)
{
    dq_buf_t b = {0};
    dq_lod_xml_text(&b, "a<b>&\"'\x01z", 9);
    DQ_CHECK_STR(b.data, "a&lt;b&gt;&amp;&quot;&apos;z");
    dq_buf_reset(&b);
    dq_oai_req_t r;
    DQ_REQUIRE(parse("verb=ListRecords&metadataPrefix=oai_dc&set=dynasty", &r) == DQ_OAI_OK);
    dq_oai_open(&b, "http://h", "2026-01-01T00:00:00Z", &r, DQ_OAI_OK);
    DQ_CHECK(strstr(b.data, "<request verb=\"ListRecords\" metadataPrefix=\"oai_dc\""
                            " set=\"dynasty\">http://h/oai</request>") != NULL);
    /* §3.2: badArgument echoes no attributes. */
    dq_buf_reset(&b);
    dq_oai_open(&b, "http://h", "2026-01-01T00:00:00Z", &r, DQ_OAI_BAD_ARGUMENT);
    DQ_CHECK(strstr(b.data, "<request>http://h/oai</request>") != NULL);
    dq_buf_reset(&b);
    dq_oai_header(&b, "http://h", "x", "2026-01-01T00:00:00Z", "song", NULL, 1);
    DQ_CHECK_STR(b.data, "<header status=\"deleted\"><identifier>oai:h:x</identifier>"
                         "<datestamp>2026-01-01T00:00:00Z</datestamp><setSpec>dynasty</setSpec>"
                         "<setSpec>dynasty:song</setSpec></header>");
    dq_buf_free(&b);
}

/* Issue 16: places with authorities in both formats: oai_dc's dc:coverage names and URIs,
 * LIDO's eventPlace after periodName with placeID per authority and the role shown. */
DQ_TEST(places_in_dc_and_lido)
{
    static const char doc[] =
        "{\"id\":\"p1\",\"title\":{\"en\":\"T\"},\"dynasty\":\"song\",\"medium\":{\"en\":\"ink\"},"
        "\"places\":[{\"name\":{\"zh\":\"杭州\",\"en\":\"Hangzhou\"},\"role\":\"made\","
        "\"wikidata\":\"Q4970\",\"tgn\":\"7001837\"},{\"name\":{\"en\":\"Suzhou & co\"}}]}";
    dq_lod_ctx_t ctx = {.base_url = "http://h"};
    dq_buf_t b = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_oai_metadata(&b, DQ_OAI_DC, doc, sizeof(doc) - 1, &ctx, &err) == 0);
    DQ_CHECK(strstr(b.data, "<dc:coverage xml:lang=\"zh\">杭州</dc:coverage>"
                            "<dc:coverage xml:lang=\"en\">Hangzhou</dc:coverage>"
                            "<dc:coverage>http://www.wikidata.org/entity/Q4970</dc:coverage>"
                            "<dc:coverage>http://vocab.getty.edu/tgn/7001837</dc:coverage>") != NULL);
    DQ_CHECK(strstr(b.data, "Suzhou &amp; co</dc:coverage>") != NULL);
    dq_buf_reset(&b);
    DQ_REQUIRE(dq_oai_metadata(&b, DQ_OAI_LIDO, doc, sizeof(doc) - 1, &ctx, &err) == 0);
    const char *period = strstr(b.data, "<lido:periodName>");
    const char *place = strstr(b.data, "<lido:eventPlace><lido:displayPlace>Hangzhou (made)"
                                       "</lido:displayPlace><lido:place>"
                                       "<lido:placeID lido:type=\"URI\" lido:source=\"Wikidata\">"
                                       "http://www.wikidata.org/entity/Q4970</lido:placeID>"
                                       "<lido:placeID lido:type=\"URI\" lido:source=\"TGN\">"
                                       "http://vocab.getty.edu/tgn/7001837</lido:placeID>"
                                       "<lido:namePlaceSet><lido:appellationValue xml:lang=\"zh\">"
                                       "杭州</lido:appellationValue>");
    const char *mat = strstr(b.data, "<lido:eventMaterialsTech>");
    DQ_CHECK(period && place && mat && period < place && place < mat);
    DQ_CHECK(strstr(b.data, "<lido:displayPlace>Suzhou &amp; co</lido:displayPlace>") != NULL);
    dq_buf_free(&b);
}
