/*
 * epts.c - FIFA EPTS tracking (the FIFA "Electronic Performance and Tracking
 * Systems" data-transfer standard) as Metrica ships it: an XML metadata file
 * and a text file with one frame per line.
 *
 * The metadata names the teams and players, the frame rate, the field size,
 * the period boundaries (provider parameters first_half_start ... as frame
 * numbers), each team's attack_direction_first_half, and - at its end - one
 * or more DataFormatSpecification elements that say how a frame line is laid
 * out, for a range of frames:
 *
 *   <DataFormatSpecification separator=":" startFrame="1" endFrame="892">
 *     <StringRegister name="frameCount"/>
 *     <SplitRegister separator=";">
 *       <SplitRegister separator=","> <PlayerChannelRef playerChannelId="player1_x"/> ... </SplitRegister>
 *       ...
 *     </SplitRegister>
 *     <SplitRegister separator=","> <BallChannelRef channelId="x"/> ... </SplitRegister>
 *   </DataFormatSpecification>
 *
 * so that "450:0.30,0.97,5,1.1;...:0.52,0.70,NaN" is frame 450, then the
 * players' x, y, mapping id and speed, then the ball. The layout is not
 * hard-coded here: each specification becomes a small tree of registers and
 * every line is split by walking that tree, so a file with other channels,
 * another order or several specifications (Metrica's full game 3 has eleven,
 * one per substitution) is read by the same code. A PlayerChannelRef names a
 * PlayerChannel (player + sensor channel); the channel's id or name says
 * whether it is x ("x" / "position_x"), y, or something we do not use (speed,
 * mapping id), which is skipped unread.
 *
 * Why expat (SAX) for the metadata: it streams, reports line and column for
 * every error, and the state we keep (teams, players, channels, the register
 * trees) is small and capped. DOCTYPE declarations are refused outright, so
 * entity tricks never reach us.
 *
 * Coordinates: "normalized" 0..1 of the field, origin top-left, y down (the
 * same frame as Metrica's CSV data), converted to metres on the field size
 * the metadata gives. Direction: the local team (Score/@idLocalTeam, else the
 * first team) is HOME; its attack_direction_first_half ("left_to_right" or
 * "right_to_left", else the inverse of the visiting team's) decides one flip
 * for periods 1 and 2, since teams change ends at half time. Extra time (ends
 * are drawn again) and files without the parameter fall back to a vote from
 * the first frame of each period: the team standing nearer a goal defends it
 * (metrica_internal.h).
 *
 * Periods: a frame belongs to the period whose [start, end] frame range holds
 * it; t = (frame - period start) / frame rate. Frames outside every period
 * (half-time) are skipped; a file whose metadata gives no boundaries at all is
 * one period starting at its first frame. Frame numbers must increase.
 *
 * The tracking file is read line by line through a fixed window, so memory
 * does not grow with the match; a line is at most EP_LINE_MAX bytes.
 */
#include <expat.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "metrica_internal.h"

#define EP_MAX_PLAYERS 256
#define EP_MAX_CHANNELS 64
#define EP_MAX_PCHANNELS 4096
#define EP_MAX_SPECS 256
#define EP_MAX_NODES 16384
#define EP_MAX_XML_DEPTH 32
#define EP_MAX_REG_DEPTH 8
#define EP_TEXT_MAX 1024
#define EP_LINE_MAX (1u << 20)
#define EP_VALUE_MAX 64
#define EP_PERIODS 4 /* EPTS names two halves and two extra halves */
#define EP_FRAME_MAX INT64_C(1000000000000)

typedef enum ep_axis { AX_OTHER, AX_X, AX_Y } ep_axis;

typedef struct ep_channel { /* a sensor channel: <Channel id="x"><Name>position_x</Name> */
    char id[FA_ID_MAX];
    char name[FA_ID_MAX];
} ep_channel;

typedef struct ep_pchannel { /* <PlayerChannel id="player1_x" playerId="P1" channelId="x"/> */
    char id[FA_ID_MAX];
    char player[FA_ID_MAX];
    char channel[FA_ID_MAX];
    unsigned long line, col;
    int player_idx;
    ep_axis axis;
} ep_pchannel;

typedef struct ep_team {
    char id[FA_ID_MAX];
    char name[FA_NAME_MAX];
    char direction[32]; /* attack_direction_first_half */
} ep_team;

typedef struct ep_player {
    fa_player p;
    char team[FA_ID_MAX];
    unsigned long line, col;
} ep_player;

typedef enum ep_node_kind { ND_SPLIT, ND_STRING, ND_PLAYER, ND_BALL } ep_node_kind;

typedef struct ep_node { /* one register of a DataFormatSpecification */
    ep_node_kind kind;
    char sep;                      /* ND_SPLIT */
    int parent, first, last, next; /* -1 when none */
    int is_frame;                  /* ND_STRING name="frameCount" */
    char ref[FA_ID_MAX];           /* ND_PLAYER playerChannelId, ND_BALL channelId */
    int slot;                      /* ND_PLAYER: index into the spec's slots */
    ep_axis axis;
    unsigned long line, col;
} ep_node;

typedef struct ep_spec {
    int64_t start, end;
    int root;        /* an ND_SPLIT node */
    int frame_child; /* position of the frameCount register among root's children */
    int nslots;
    int slot_player[FA_FRAME_MAX_PLAYERS];
    unsigned char slot_axes[FA_FRAME_MAX_PLAYERS]; /* bit 1 x, bit 2 y: catches duplicates */
    unsigned long line, col;
} ep_spec;

typedef struct ep_meta {
    double frame_rate, length, width;
    int64_t period_start[EP_PERIODS + 1], period_end[EP_PERIODS + 1]; /* -1 unknown; [0] unused */
    char local_id[FA_ID_MAX], visiting_id[FA_ID_MAX];
    int local_score, visiting_score;
    char competition[FA_NAME_MAX];
    ep_team teams[2];
    int nteams, home_team; /* index of the local team in teams */
    ep_player *players;
    int nplayers, capplayers;
    ep_channel channels[EP_MAX_CHANNELS];
    int nchannels;
    ep_pchannel *pch;
    int npch, cappch;
    ep_spec *specs;
    int nspecs, capspecs;
    ep_node *nodes;
    int nnodes, capnodes;
} ep_meta;

/* ------------------------------------------------------------ metadata: SAX state */

typedef struct ep_xml {
    XML_Parser xp;
    const char *name; /* base name for messages */
    ep_meta *m;
    int err;
    char stack[EP_MAX_XML_DEPTH][32]; /* open element names (truncated) */
    int depth;
    char text[EP_TEXT_MAX];
    size_t ntext;
    int text_over;
    char param_name[64];
    char param_value[EP_TEXT_MAX];
    int cur_node; /* innermost open register, -1 outside a specification */
    int reg_depth;
} ep_xml;

static int xml_failv(ep_xml *x, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fa_err_set(FA_EINVAL, "%s:%lu:%lu: %s", x->name, (unsigned long)XML_GetCurrentLineNumber(x->xp),
               (unsigned long)XML_GetCurrentColumnNumber(x->xp) + 1, msg);
    x->err = FA_EINVAL;
    XML_StopParser(x->xp, XML_FALSE);
    return -1;
}

/* Records the first error at the parser's position and stops it; returns -1. */
static int xml_fail(ep_xml *x, const char *fmt, ...) FA_PRINTF(2, 3);
static int xml_fail(ep_xml *x, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = xml_failv(x, fmt, ap);
    va_end(ap);
    return rc;
}

static const char *attr(const XML_Char **atts, const char *key) {
    for (size_t i = 0; atts[i]; i += 2)
        if (strcmp(atts[i], key) == 0) return atts[i + 1];
    return NULL;
}

/* Copies attribute key into out; fails when it is absent, empty or too long. */
static int attr_copy(ep_xml *x, const XML_Char **atts, const char *elem, const char *key, char *out,
                     size_t size) {
    const char *v = attr(atts, key);
    if (!v || !*v) return xml_fail(x, "<%s>: attribute '%s' missing or empty", elem, key);
    if (strlen(v) >= size)
        return xml_fail(x, "<%s>: attribute '%s' longer than %zu bytes", elem, key, size - 1);
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

static const char *parent_name(const ep_xml *x, int up) {
    return x->depth - 1 - up >= 0 ? x->stack[x->depth - 1 - up] : "";
}

/* The element's text without surrounding white space (in place). */
static const char *text_trimmed(ep_xml *x) {
    char *s = x->text, *e = x->text + x->ntext;
    while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) e--;
    *e = '\0';
    return s;
}

static int text_number(ep_xml *x, const char *elem, double lo, double hi, double *out) {
    const char *t = text_trimmed(x);
    double v;
    if (fa_parse_double(t, &v) || v < lo || v > hi)
        return xml_fail(x, "<%s>: expected a number in [%g, %g], got '%.40s'", elem, lo, hi, t);
    *out = v;
    return 0;
}

/* Optional integer text: "" leaves *out at -1. */
static int text_int_opt(ep_xml *x, const char *elem, const char *t, int64_t hi, int64_t *out) {
    *out = -1;
    if (!*t) return 0;
    if (fa_parse_int(t, 0, hi, out))
        return xml_fail(x, "<%s>: expected an integer in [0, %" PRId64 "], got '%.40s'", elem, hi, t);
    return 0;
}

/* ------------------------------------------------------------ metadata: records */

/* Makes room for element n of a growable array of at most max elements
 * (arrp: the address of the array pointer, of any element type); returns
 * the element zeroed, or NULL after failing the parse (limit or memory). */
static void *xml_slot(ep_xml *x, void *arrp, int *cap, int n, size_t elem, int max, const char *what) {
    if (n == max) return xml_fail(x, "more than %d %s", max, what), NULL;
    void *arr;
    memcpy(&arr, arrp, sizeof arr);
    if (n == *cap) {
        int grown = *cap ? *cap * 2 : 16;
        if (!(arr = fa_realloc(arr, (size_t)grown * elem))) {
            x->err = FA_ENOMEM;
            XML_StopParser(x->xp, XML_FALSE);
            return NULL;
        }
        memcpy(arrp, &arr, sizeof arr);
        *cap = grown;
    }
    char *slot = (char *)arr + (size_t)n * elem;
    memset(slot, 0, elem);
    return slot;
}

static int on_team_start(ep_xml *x, const XML_Char **atts) {
    ep_meta *m = x->m;
    if (m->nteams == 2) return xml_fail(x, "<Team>: more than two teams");
    ep_team *t = &m->teams[m->nteams];
    memset(t, 0, sizeof *t);
    if (attr_copy(x, atts, "Team", "id", t->id, sizeof t->id)) return -1;
    for (int i = 0; i < m->nteams; i++)
        if (strcmp(m->teams[i].id, t->id) == 0) return xml_fail(x, "<Team>: duplicate team id '%s'", t->id);
    m->nteams++;
    return 0;
}

static int on_player_start(ep_xml *x, const XML_Char **atts) {
    ep_meta *m = x->m;
    ep_player *p =
        xml_slot(x, &m->players, &m->capplayers, m->nplayers, sizeof *p, EP_MAX_PLAYERS, "players");
    if (!p) return -1;
    fa_player_init(&p->p);
    if (attr_copy(x, atts, "Player", "id", p->p.id, sizeof p->p.id)) return -1;
    if (attr_copy(x, atts, "Player", "teamId", p->team, sizeof p->team)) return -1;
    for (int i = 0; i < m->nplayers; i++)
        if (strcmp(m->players[i].p.id, p->p.id) == 0)
            return xml_fail(x, "<Player>: duplicate player id '%s'", p->p.id);
    p->line = (unsigned long)XML_GetCurrentLineNumber(x->xp);
    p->col = (unsigned long)XML_GetCurrentColumnNumber(x->xp) + 1;
    m->nplayers++;
    return 0;
}

static int on_channel_start(ep_xml *x, const XML_Char **atts) {
    ep_meta *m = x->m;
    if (m->nchannels == EP_MAX_CHANNELS)
        return xml_fail(x, "<Channel>: more than %d channels", EP_MAX_CHANNELS);
    ep_channel *c = &m->channels[m->nchannels];
    memset(c, 0, sizeof *c);
    if (attr_copy(x, atts, "Channel", "id", c->id, sizeof c->id)) return -1;
    m->nchannels++;
    return 0;
}

static int on_pchannel_start(ep_xml *x, const XML_Char **atts) {
    ep_meta *m = x->m;
    ep_pchannel *c =
        xml_slot(x, &m->pch, &m->cappch, m->npch, sizeof *c, EP_MAX_PCHANNELS, "player channels");
    if (!c) return -1;
    if (attr_copy(x, atts, "PlayerChannel", "id", c->id, sizeof c->id) ||
        attr_copy(x, atts, "PlayerChannel", "playerId", c->player, sizeof c->player) ||
        attr_copy(x, atts, "PlayerChannel", "channelId", c->channel, sizeof c->channel))
        return -1;
    c->line = (unsigned long)XML_GetCurrentLineNumber(x->xp);
    c->col = (unsigned long)XML_GetCurrentColumnNumber(x->xp) + 1;
    m->npch++;
    return 0;
}

static int on_score_start(ep_xml *x, const XML_Char **atts) {
    const char *local = attr(atts, "idLocalTeam"), *visiting = attr(atts, "idVisitingTeam");
    if (local) fa_strlcpy_utf8(x->m->local_id, local, sizeof x->m->local_id);
    if (visiting) fa_strlcpy_utf8(x->m->visiting_id, visiting, sizeof x->m->visiting_id);
    return 0;
}

/* ------------------------------------------------------------ metadata: register trees */

static int node_new(ep_xml *x, ep_node_kind kind) {
    ep_meta *m = x->m;
    ep_node *n = xml_slot(x, &m->nodes, &m->capnodes, m->nnodes, sizeof *n, EP_MAX_NODES,
                          "registers in the DataFormatSpecifications");
    if (!n) return -1;
    int i = m->nnodes++;
    n->kind = kind;
    n->parent = n->first = n->last = n->next = -1;
    n->slot = -1;
    n->line = (unsigned long)XML_GetCurrentLineNumber(x->xp);
    n->col = (unsigned long)XML_GetCurrentColumnNumber(x->xp) + 1;
    if (x->cur_node >= 0) {
        ep_node *p = &m->nodes[x->cur_node];
        n->parent = x->cur_node;
        if (p->last >= 0)
            m->nodes[p->last].next = i;
        else
            p->first = i;
        p->last = i;
    }
    return i;
}

/* A separator: one printable ASCII byte that cannot occur inside a number,
 * and different from every enclosing register's (else splitting is ambiguous). */
static int separator_ok(ep_xml *x, const char *elem, const char *sep) {
    if (!sep || strlen(sep) != 1 || sep[0] <= ' ' || sep[0] > '~' || strchr("0123456789.+-eEnNaA", sep[0])) {
        xml_fail(x, "<%s>: attribute 'separator' must be one punctuation character, got '%.20s'", elem,
                 sep ? sep : "");
        return 0;
    }
    for (int i = x->cur_node; i >= 0; i = x->m->nodes[i].parent) {
        if (x->m->nodes[i].sep == sep[0]) {
            xml_fail(x, "<%s>: separator '%c' already used by an enclosing register", elem, sep[0]);
            return 0;
        }
    }
    return 1;
}

static int on_spec_start(ep_xml *x, const XML_Char **atts) {
    ep_meta *m = x->m;
    if (x->cur_node >= 0) return xml_fail(x, "<DataFormatSpecification>: nested specification");
    const char *sep = attr(atts, "separator");
    if (!separator_ok(x, "DataFormatSpecification", sep)) return -1;
    ep_spec *s =
        xml_slot(x, &m->specs, &m->capspecs, m->nspecs, sizeof *s, EP_MAX_SPECS, "DataFormatSpecifications");
    if (!s) return -1;
    s->frame_child = -1;
    const char *a = attr(atts, "startFrame"), *b = attr(atts, "endFrame");
    if (text_int_opt(x, "DataFormatSpecification startFrame", a ? a : "", EP_FRAME_MAX, &s->start) ||
        text_int_opt(x, "DataFormatSpecification endFrame", b ? b : "", EP_FRAME_MAX, &s->end))
        return -1;
    if (s->start < 0) s->start = 0;
    if (s->end < 0) s->end = EP_FRAME_MAX;
    if (s->end < s->start) return xml_fail(x, "<DataFormatSpecification>: endFrame before startFrame");
    int root = node_new(x, ND_SPLIT);
    if (root < 0) return -1;
    m->nodes[root].sep = sep[0];
    s->root = root;
    s->line = m->nodes[root].line;
    s->col = m->nodes[root].col;
    m->nspecs++;
    x->cur_node = root;
    x->reg_depth = 1;
    return 0;
}

static int on_register_start(ep_xml *x, const char *elem, const XML_Char **atts) {
    if (x->cur_node < 0) return xml_fail(x, "<%s> outside a DataFormatSpecification", elem);
    if (x->m->nodes[x->cur_node].kind != ND_SPLIT) return xml_fail(x, "<%s> inside a leaf register", elem);
    if (strcmp(elem, "SplitRegister") == 0) {
        const char *sep = attr(atts, "separator");
        if (x->reg_depth == EP_MAX_REG_DEPTH) return xml_fail(x, "<SplitRegister>: nested too deep");
        if (!separator_ok(x, elem, sep)) return -1;
        int i = node_new(x, ND_SPLIT);
        if (i < 0) return -1;
        x->m->nodes[i].sep = sep[0];
        x->cur_node = i;
        x->reg_depth++;
        return 0;
    }
    ep_node_kind kind = strcmp(elem, "StringRegister") == 0     ? ND_STRING
                        : strcmp(elem, "PlayerChannelRef") == 0 ? ND_PLAYER
                                                                : ND_BALL;
    int i = node_new(x, kind);
    if (i < 0) return -1;
    ep_node *n = &x->m->nodes[i];
    if (kind == ND_STRING) {
        const char *name = attr(atts, "name");
        n->is_frame = name && strcmp(name, "frameCount") == 0;
    } else if (kind == ND_PLAYER) {
        attr_copy(x, atts, elem, "playerChannelId", n->ref, sizeof n->ref);
    } else {
        attr_copy(x, atts, elem, "channelId", n->ref, sizeof n->ref);
    }
    x->cur_node = i; /* leaves are closed by their end tag like splits */
    x->reg_depth++;
    return 0;
}

static int is_register(const char *name) {
    return strcmp(name, "SplitRegister") == 0 || strcmp(name, "StringRegister") == 0 ||
           strcmp(name, "PlayerChannelRef") == 0 || strcmp(name, "BallChannelRef") == 0;
}

/* ------------------------------------------------------------ metadata: element events */

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts) {
    ep_xml *x = ud;
    if (x->err) return;
    if (x->depth == EP_MAX_XML_DEPTH) {
        xml_fail(x, "elements nested deeper than %d", EP_MAX_XML_DEPTH);
        return;
    }
    const char *parent = parent_name(x, 0);
    fa_strlcpy_utf8(x->stack[x->depth++], name, sizeof x->stack[0]);
    x->ntext = 0;
    x->text_over = 0;
    if (strcmp(name, "Team") == 0 && strcmp(parent, "Teams") == 0)
        on_team_start(x, atts);
    else if (strcmp(name, "Player") == 0 && strcmp(parent, "Players") == 0)
        on_player_start(x, atts);
    else if (strcmp(name, "Channel") == 0 && strcmp(parent, "Channels") == 0)
        on_channel_start(x, atts);
    else if (strcmp(name, "PlayerChannel") == 0)
        on_pchannel_start(x, atts);
    else if (strcmp(name, "Score") == 0)
        on_score_start(x, atts);
    else if (strcmp(name, "DataFormatSpecification") == 0)
        on_spec_start(x, atts);
    else if (is_register(name))
        on_register_start(x, name, atts);
    else if (strcmp(name, "ProviderParameter") == 0)
        x->param_name[0] = x->param_value[0] = '\0';
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len) {
    ep_xml *x = ud;
    if (x->err || len <= 0) return;
    if (x->ntext + (size_t)len >= sizeof x->text) {
        x->text_over = 1;
        return;
    }
    memcpy(x->text + x->ntext, s, (size_t)len);
    x->ntext += (size_t)len;
    x->text[x->ntext] = '\0';
}

static int on_period_param(ep_xml *x, const char *key, const char *value) {
    static const char *const names[EP_PERIODS] = {"first_half", "second_half", "first_extra_half",
                                                  "second_extra_half"};
    for (int p = 1; p <= EP_PERIODS; p++) {
        size_t k = strlen(names[p - 1]);
        if (strncmp(key, names[p - 1], k) != 0) continue;
        int64_t *slot = strcmp(key + k, "_start") == 0 ? &x->m->period_start[p]
                        : strcmp(key + k, "_end") == 0 ? &x->m->period_end[p]
                                                       : NULL;
        return slot ? text_int_opt(x, key, value, EP_FRAME_MAX, slot) : 0;
    }
    return 0;
}

/* </ProviderParameter>: dispatch on who owns the parameter list. */
static int on_param_end(ep_xml *x) {
    const char *owner = parent_name(x, 1), *key = x->param_name, *value = x->param_value;
    ep_meta *m = x->m;
    if (strcmp(owner, "ProviderGlobalParameters") == 0) {
        on_period_param(x, key, value);
    } else if (strcmp(owner, "ProviderTeamsParameters") == 0 && m->nteams > 0) {
        if (strcmp(key, "attack_direction_first_half") == 0)
            fa_strlcpy_utf8(m->teams[m->nteams - 1].direction, value, sizeof m->teams[0].direction);
    } else if (strcmp(owner, "ProviderPlayerParameters") == 0 && m->nplayers > 0) {
        fa_player *p = &m->players[m->nplayers - 1].p;
        if (strcmp(key, "position_type") == 0 && strcmp(value, "Unknown") != 0)
            fa_strlcpy_utf8(p->position, value, sizeof p->position);
    }
    return 0;
}

static int on_name_end(ep_xml *x, const char *t) {
    const char *parent = parent_name(x, 1);
    ep_meta *m = x->m;
    if (strcmp(parent, "Team") == 0 && m->nteams > 0)
        fa_strlcpy_utf8(m->teams[m->nteams - 1].name, t, sizeof m->teams[0].name);
    else if (strcmp(parent, "Player") == 0 && m->nplayers > 0)
        fa_strlcpy_utf8(m->players[m->nplayers - 1].p.name, t, sizeof m->players[0].p.name);
    else if (strcmp(parent, "Channel") == 0 && m->nchannels > 0)
        fa_strlcpy_utf8(m->channels[m->nchannels - 1].name, t, sizeof m->channels[0].name);
    else if (strcmp(parent, "ProviderParameter") == 0)
        fa_strlcpy_utf8(x->param_name, t, sizeof x->param_name);
    return 0;
}

static int on_score_end(ep_xml *x, const char *name, int *out) {
    int64_t v;
    if (text_int_opt(x, name, text_trimmed(x), 999, &v) == 0) *out = (int)v;
    return 0;
}

static int on_shirt_end(ep_xml *x) {
    int64_t v;
    if (x->m->nplayers > 0 && strcmp(parent_name(x, 1), "Player") == 0 &&
        text_int_opt(x, "ShirtNumber", text_trimmed(x), 999, &v) == 0)
        x->m->players[x->m->nplayers - 1].p.shirt = (int)v;
    return 0;
}

/* Elements whose text we read; only these must fit EP_TEXT_MAX. */
static int is_text_element(const char *name) {
    static const char *const names[] = {"Name",       "Value",          "FrameRate",         "Width",
                                        "Height",     "LocalTeamScore", "VisitingTeamScore", "ShirtNumber",
                                        "Competition"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) return 1;
    return 0;
}

static int on_leaf_end(ep_xml *x, const char *name) {
    ep_meta *m = x->m;
    if (x->text_over && is_text_element(name))
        return xml_fail(x, "<%s>: text longer than %d bytes", name, EP_TEXT_MAX - 1);
    if (strcmp(name, "Name") == 0)
        on_name_end(x, text_trimmed(x));
    else if (strcmp(name, "Value") == 0)
        fa_strlcpy_utf8(x->param_value, text_trimmed(x), sizeof x->param_value);
    else if (strcmp(name, "ProviderParameter") == 0)
        on_param_end(x);
    else if (strcmp(name, "FrameRate") == 0)
        text_number(x, name, 1e-3, 1000.0, &m->frame_rate);
    else if (strcmp(name, "Width") == 0)
        text_number(x, name, 1.0, 1000.0, &m->length);
    else if (strcmp(name, "Height") == 0)
        text_number(x, name, 1.0, 1000.0, &m->width);
    else if (strcmp(name, "LocalTeamScore") == 0)
        on_score_end(x, name, &m->local_score);
    else if (strcmp(name, "VisitingTeamScore") == 0)
        on_score_end(x, name, &m->visiting_score);
    else if (strcmp(name, "ShirtNumber") == 0)
        on_shirt_end(x);
    else if (strcmp(name, "Competition") == 0)
        fa_strlcpy_utf8(m->competition, text_trimmed(x), sizeof m->competition);
    return 0;
}

static void XMLCALL on_end(void *ud, const XML_Char *name) {
    ep_xml *x = ud;
    if (x->err) return;
    if (is_register(name) || strcmp(name, "DataFormatSpecification") == 0) {
        if (x->cur_node >= 0) x->cur_node = x->m->nodes[x->cur_node].parent;
        x->reg_depth--;
    } else {
        on_leaf_end(x, name);
    }
    x->depth--;
    x->ntext = 0;
    x->text_over = 0;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal) {
    (void)name, (void)sysid, (void)pubid, (void)has_internal;
    ep_xml *x = ud;
    if (!x->err) xml_fail(x, "DOCTYPE declarations are not accepted in EPTS metadata");
}

/* ------------------------------------------------------------ metadata: reading */

static void meta_init(ep_meta *m) {
    memset(m, 0, sizeof *m);
    m->local_score = m->visiting_score = -1;
    for (int p = 0; p <= EP_PERIODS; p++) m->period_start[p] = m->period_end[p] = -1;
}

static void meta_free(ep_meta *m) {
    free(m->players);
    free(m->pch);
    free(m->specs);
    free(m->nodes);
}

static int xml_feed(ep_xml *x, FILE *f) {
    char buf[64 * 1024];
    for (;;) {
        size_t n = fread(buf, 1, sizeof buf, f);
        if (ferror(f)) return fa_err_set(FA_EIO, "%s: read failed", x->name);
        int last = n < sizeof buf;
        if (XML_Parse(x->xp, buf, (int)n, last) != XML_STATUS_OK) {
            if (x->err) return x->err;
            return fa_err_set(FA_EINVAL, "%s:%lu:%lu: XML error: %s", x->name,
                              (unsigned long)XML_GetCurrentLineNumber(x->xp),
                              (unsigned long)XML_GetCurrentColumnNumber(x->xp) + 1,
                              XML_ErrorString(XML_GetErrorCode(x->xp)));
        }
        if (x->err) return x->err;
        if (last) return 0;
    }
}

static int meta_parse_xml(const char *path, ep_meta *m) {
    int rc = fa_file_check(path);
    if (rc) return rc;
    FILE *f = fopen(path, "rb");
    if (!f) return fa_err_set(FA_EIO, "%s: cannot open", fa_path_base(path));
    ep_xml *x = fa_calloc(1, sizeof *x);
    XML_Parser xp = x ? XML_ParserCreate("UTF-8") : NULL;
    if (!xp) {
        free(x);
        fclose(f);
        return fa_err_set(FA_ENOMEM, "%s: cannot create the XML parser", fa_path_base(path));
    }
    x->xp = xp;
    x->name = fa_path_base(path);
    x->m = m;
    x->cur_node = -1;
    XML_SetUserData(xp, x);
    XML_SetElementHandler(xp, on_start, on_end);
    XML_SetCharacterDataHandler(xp, on_text);
    XML_SetStartDoctypeDeclHandler(xp, on_doctype);
    rc = xml_feed(x, f);
    XML_ParserFree(xp);
    free(x);
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------ metadata: resolving references */

static int meta_error(const char *name, unsigned long line, unsigned long col, const char *fmt, ...)
    FA_PRINTF(4, 5);
static int meta_error(const char *name, unsigned long line, unsigned long col, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fa_err_set(FA_EINVAL, "%s:%lu:%lu: %s", name, line, col, msg);
}

/* The axis a sensor channel carries: x, y, or something we do not use. */
static ep_axis channel_axis(const ep_meta *m, const char *channel_id) {
    const char *name = "";
    for (int i = 0; i < m->nchannels; i++)
        if (strcmp(m->channels[i].id, channel_id) == 0) name = m->channels[i].name;
    if (strcmp(channel_id, "x") == 0 || strcmp(name, "position_x") == 0) return AX_X;
    if (strcmp(channel_id, "y") == 0 || strcmp(name, "position_y") == 0) return AX_Y;
    return AX_OTHER;
}

static int channel_known(const ep_meta *m, const char *channel_id) {
    if (m->nchannels == 0) return 1; /* no Devices section: trust the ids */
    for (int i = 0; i < m->nchannels; i++)
        if (strcmp(m->channels[i].id, channel_id) == 0) return 1;
    return 0;
}

static int player_index(const ep_meta *m, const char *id) {
    for (int i = 0; i < m->nplayers; i++)
        if (strcmp(m->players[i].p.id, id) == 0) return i;
    return -1;
}

static int cmp_pchannel(const void *a, const void *b) {
    return strcmp(((const ep_pchannel *)a)->id, ((const ep_pchannel *)b)->id);
}

static int resolve_pchannels(ep_meta *m, const char *name) {
    for (int i = 0; i < m->npch; i++) {
        ep_pchannel *c = &m->pch[i];
        c->player_idx = player_index(m, c->player);
        if (c->player_idx < 0)
            return meta_error(name, c->line, c->col, "<PlayerChannel id='%s'>: unknown playerId '%s'", c->id,
                              c->player);
        if (!channel_known(m, c->channel))
            return meta_error(name, c->line, c->col, "<PlayerChannel id='%s'>: unknown channelId '%s'", c->id,
                              c->channel);
        c->axis = channel_axis(m, c->channel);
    }
    if (m->npch > 0) qsort(m->pch, (size_t)m->npch, sizeof *m->pch, cmp_pchannel); /* (NULL when none) */
    for (int i = 1; i < m->npch; i++)
        if (strcmp(m->pch[i - 1].id, m->pch[i].id) == 0)
            return meta_error(name, m->pch[i].line, m->pch[i].col, "duplicate PlayerChannel id '%s'",
                              m->pch[i].id);
    return 0;
}

/* Gives the spec a slot for the player behind a PlayerChannelRef. */
static int resolve_player_ref(ep_meta *m, ep_spec *s, ep_node *n, const char *name) {
    ep_pchannel key;
    fa_strlcpy_utf8(key.id, n->ref, sizeof key.id);
    const ep_pchannel *c =
        m->npch > 0 ? bsearch(&key, m->pch, (size_t)m->npch, sizeof *m->pch, cmp_pchannel) : NULL;
    if (!c)
        return meta_error(name, n->line, n->col, "<PlayerChannelRef>: unknown playerChannelId '%s'", n->ref);
    n->axis = c->axis;
    if (c->axis == AX_OTHER) return 0;
    int slot = 0;
    while (slot < s->nslots && s->slot_player[slot] != c->player_idx) slot++;
    if (slot == s->nslots) {
        if (s->nslots == FA_FRAME_MAX_PLAYERS)
            return meta_error(name, n->line, n->col, "DataFormatSpecification: more than %d players",
                              FA_FRAME_MAX_PLAYERS);
        s->slot_player[s->nslots++] = c->player_idx;
    }
    unsigned bit = c->axis == AX_X ? 1u : 2u;
    if (s->slot_axes[slot] & bit)
        return meta_error(name, n->line, n->col, "player '%s' has two %s channels in one specification",
                          m->players[c->player_idx].p.id, c->axis == AX_X ? "x" : "y");
    s->slot_axes[slot] |= (unsigned char)bit;
    n->slot = slot;
    return 0;
}

static int resolve_node(ep_meta *m, ep_spec *s, int i, const char *name) {
    ep_node *n = &m->nodes[i];
    if (n->kind == ND_PLAYER) return resolve_player_ref(m, s, n, name);
    if (n->kind == ND_BALL) {
        if (!channel_known(m, n->ref))
            return meta_error(name, n->line, n->col, "<BallChannelRef>: unknown channelId '%s'", n->ref);
        n->axis = channel_axis(m, n->ref);
        return 0;
    }
    if (n->kind != ND_SPLIT) return 0;
    for (int c = n->first; c >= 0; c = m->nodes[c].next) {
        int rc = resolve_node(m, s, c, name);
        if (rc) return rc;
    }
    return 0;
}

static int resolve_spec(ep_meta *m, ep_spec *s, const char *name) {
    int k = 0;
    for (int c = m->nodes[s->root].first; c >= 0; c = m->nodes[c].next, k++)
        if (m->nodes[c].kind == ND_STRING && m->nodes[c].is_frame) s->frame_child = k;
    if (s->frame_child < 0)
        return meta_error(
            name, s->line, s->col,
            "<DataFormatSpecification>: no <StringRegister name=\"frameCount\"> at its top level");
    return resolve_node(m, s, s->root, name);
}

static int resolve_teams(ep_meta *m, const char *name) {
    if (m->nteams == 0) return fa_err_set(FA_EINVAL, "%s: no <Team> in the metadata", name);
    m->home_team = -1;
    for (int i = 0; i < m->nteams; i++)
        if (strcmp(m->teams[i].id, m->local_id) == 0) m->home_team = i;
    if (m->home_team < 0 && m->local_id[0])
        return fa_err_set(FA_EINVAL, "%s: <Score idLocalTeam='%s'> names no <Team>", name, m->local_id);
    if (m->home_team < 0) m->home_team = 0; /* no Score element: the first team is the local one */
    for (int i = 0; i < m->nplayers; i++) {
        ep_player *p = &m->players[i];
        int t = -1;
        for (int k = 0; k < m->nteams; k++)
            if (strcmp(m->teams[k].id, p->team) == 0) t = k;
        if (t < 0)
            return meta_error(name, p->line, p->col, "<Player id='%s'>: unknown teamId '%s'", p->p.id,
                              p->team);
        p->p.side = t == m->home_team ? FA_SIDE_HOME : FA_SIDE_AWAY;
    }
    return 0;
}

static int meta_check(ep_meta *m, const char *name) {
    if (m->frame_rate <= 0) return fa_err_set(FA_EINVAL, "%s: no <FrameRate> in the metadata", name);
    if (m->length <= 0) m->length = FA_PITCH_DEFAULT_LENGTH;
    if (m->width <= 0) m->width = FA_PITCH_DEFAULT_WIDTH;
    if (m->nspecs == 0)
        return fa_err_set(FA_EINVAL, "%s: no <DataFormatSpecification> in the metadata", name);
    int rc = resolve_teams(m, name);
    if (!rc) rc = resolve_pchannels(m, name);
    for (int i = 0; !rc && i < m->nspecs; i++) rc = resolve_spec(m, &m->specs[i], name);
    return rc;
}

static int meta_read(const char *path, ep_meta *m) {
    meta_init(m);
    int rc = meta_parse_xml(path, m);
    if (!rc) rc = meta_check(m, fa_path_base(path));
    return rc;
}

/* 1 when the team attacks left_to_right in the first half, 0 right_to_left, -1 unknown. */
static int team_first_half_plus(const ep_team *t) {
    return strcmp(t->direction, "left_to_right") == 0   ? 1
           : strcmp(t->direction, "right_to_left") == 0 ? 0
                                                        : -1;
}

/* 1 when HOME attacks raw +x in the first half, 0 when raw -x, -1 unknown:
 * the local team's own parameter, else the inverse of the other team's. */
static int meta_home_first_half(const ep_meta *m) {
    int plus = team_first_half_plus(&m->teams[m->home_team]);
    if (plus >= 0 || m->nteams < 2) return plus;
    int other = team_first_half_plus(&m->teams[1 - m->home_team]);
    return other < 0 ? -1 : !other;
}

/* ------------------------------------------------------------ tracking: lines */

typedef struct ep_lines { /* a line reader over a fixed window */
    FILE *f;
    const char *name;
    char win[64 * 1024];
    size_t pos, len;
    fa_buf line;
    unsigned long lineno;
} ep_lines;

static int lines_fill(ep_lines *r) {
    r->pos = 0;
    r->len = fread(r->win, 1, sizeof r->win, r->f);
    if (ferror(r->f)) return fa_err_set(FA_EIO, "%s:%lu: read failed", r->name, r->lineno);
    return r->len > 0;
}

/* Reads the next line without its "\n" / "\r\n". Returns 1, 0 at end, < 0. */
static int lines_next(ep_lines *r) {
    fa_buf_reset(&r->line);
    int any = 0;
    for (;;) {
        if (r->pos == r->len) {
            int rc = lines_fill(r);
            if (rc < 0) return rc;
            if (rc == 0) break;
        }
        char *start = r->win + r->pos, *nl = memchr(start, '\n', r->len - r->pos);
        size_t n = nl ? (size_t)(nl - start) : r->len - r->pos;
        if (r->line.len + n > EP_LINE_MAX)
            return fa_err_set(FA_ELIMIT, "%s:%lu: line longer than %u bytes", r->name, r->lineno + 1,
                              EP_LINE_MAX);
        if (fa_buf_append(&r->line, start, n)) return FA_ENOMEM;
        any = 1;
        r->pos += n + (nl != NULL);
        if (nl) break;
    }
    if (!any) return 0;
    r->lineno++;
    if (r->line.len && r->line.data[r->line.len - 1] == '\r') r->line.data[--r->line.len] = '\0';
    return 1;
}

/* ------------------------------------------------------------ tracking: one line */

typedef struct ep_frame_vals { /* raw values of one line, by spec slot */
    int64_t frame;
    double sx[FA_FRAME_MAX_PLAYERS], sy[FA_FRAME_MAX_PLAYERS];
    double bx, by;
} ep_frame_vals;

typedef struct ep_line_ctx {
    const ep_meta *m;
    const char *name, *start; /* file name, first byte of the line (for columns) */
    unsigned long line;
    ep_frame_vals *v;
} ep_line_ctx;

static int line_error(const ep_line_ctx *c, const char *at, const char *fmt, ...) FA_PRINTF(3, 4);
static int line_error(const ep_line_ctx *c, const char *at, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fa_err_set(FA_EINVAL, "%s:%lu: column %zu: %s", c->name, c->line, (size_t)(at - c->start) + 1,
                      msg);
}

/* A coordinate: "NaN" or empty -> NAN, else a number in the unit band. */
static int leaf_coord(const ep_line_ctx *c, const char *s, size_t len, double *out) {
    char buf[EP_VALUE_MAX];
    if (len >= sizeof buf) return line_error(c, s, "value longer than %d bytes", EP_VALUE_MAX - 1);
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (len == 0 || strcmp(buf, "NaN") == 0 || strcmp(buf, "nan") == 0) {
        *out = NAN;
        return 0;
    }
    if (fa_parse_double(buf, out) || !mx_coord_ok(*out))
        return line_error(c, s, "expected a coordinate in [%g, %g] or NaN, got '%s'", MX_COORD_MIN,
                          MX_COORD_MAX, buf);
    return 0;
}

static int leaf_frame(const ep_line_ctx *c, const char *s, size_t len, int64_t *out) {
    char buf[EP_VALUE_MAX];
    if (len >= sizeof buf) return line_error(c, s, "frame number longer than %d bytes", EP_VALUE_MAX - 1);
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (fa_parse_int(buf, 0, EP_FRAME_MAX, out))
        return line_error(c, s, "expected a frame number (integer >= 0), got '%s'", buf);
    return 0;
}

static int parse_leaf(const ep_line_ctx *c, const ep_node *n, const char *s, size_t len) {
    ep_frame_vals *v = c->v;
    if (n->kind == ND_STRING) return n->is_frame ? leaf_frame(c, s, len, &v->frame) : 0;
    if (n->axis == AX_OTHER) return 0; /* speed, mapping id, ...: not used */
    if (n->kind == ND_BALL) return leaf_coord(c, s, len, n->axis == AX_X ? &v->bx : &v->by);
    return leaf_coord(c, s, len, n->axis == AX_X ? &v->sx[n->slot] : &v->sy[n->slot]);
}

/* Splits s[0..len) by the node's separator, one piece per child register. */
static int parse_node(const ep_line_ctx *c, int i, const char *s, size_t len) {
    const ep_node *n = &c->m->nodes[i];
    if (n->kind != ND_SPLIT) return parse_leaf(c, n, s, len);
    const char *p = s, *end = s + len;
    int k = 0;
    for (int ch = n->first; ch >= 0; ch = c->m->nodes[ch].next, k++) {
        const char *stop = memchr(p, n->sep, (size_t)(end - p));
        if (c->m->nodes[ch].next < 0) {
            if (stop) return line_error(c, stop, "more than %d fields separated by '%c'", k + 1, n->sep);
            stop = end;
        } else if (!stop) {
            return line_error(c, end, "expected more fields separated by '%c' (got %d)", n->sep, k + 1);
        }
        int rc = parse_node(c, ch, p, (size_t)(stop - p));
        if (rc) return rc;
        p = stop + 1;
    }
    return 0;
}

/* Frame number of a line as the spec would read it, or -1. */
static int64_t spec_peek_frame(const ep_meta *m, const ep_spec *s, const char *line, size_t len) {
    char sep = m->nodes[s->root].sep;
    const char *p = line, *end = line + len;
    for (int k = 0; k < s->frame_child; k++) {
        p = memchr(p, sep, (size_t)(end - p));
        if (!p) return -1;
        p++;
    }
    const char *stop = memchr(p, sep, (size_t)(end - p));
    size_t n = stop ? (size_t)(stop - p) : (size_t)(end - p);
    char buf[EP_VALUE_MAX];
    int64_t frame;
    if (n >= sizeof buf) return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return fa_parse_int(buf, 0, EP_FRAME_MAX, &frame) ? -1 : frame;
}

/* The specification whose frame range holds this line's frame. */
static int pick_spec(const ep_line_ctx *c, const char *line, size_t len, int hint) {
    const ep_meta *m = c->m;
    int64_t seen = -1;
    for (int k = -1; k < m->nspecs; k++) {
        int i = k < 0 ? hint : k;
        int64_t f = spec_peek_frame(m, &m->specs[i], line, len);
        if (f >= 0 && f >= m->specs[i].start && f <= m->specs[i].end) return i;
        if (f >= 0) seen = f;
    }
    if (seen < 0) return line_error(c, line, "no frame number where the DataFormatSpecification puts it");
    return line_error(c, line, "frame %" PRId64 " is outside every DataFormatSpecification frame range",
                      seen);
}

/* ------------------------------------------------------------ tracking: frames */

typedef struct ep_run {
    const ep_meta *m;
    const fa_sink *sink;
    fa_pitch pitch;
    int first_half_plus; /* meta_home_first_half() */
    int period;          /* current period, 0 before the first frame */
    int64_t period_start, last_frame;
    int flip;
    int spec_hint;
    ep_frame_vals vals;
    fa_frame_player players[FA_FRAME_MAX_PLAYERS];
} ep_run;

/* Period of a frame from the metadata boundaries; 0 when it falls outside
 * every period (half-time), -1 when the metadata gives none at all. */
static int frame_period(const ep_meta *m, int64_t frame, int64_t *start) {
    int any = 0;
    for (int p = 1; p <= EP_PERIODS; p++) {
        if (m->period_start[p] < 0) continue;
        any = 1;
        int64_t end = m->period_end[p];
        for (int q = p + 1; end < 0 && q <= EP_PERIODS; q++)
            if (m->period_start[q] >= 0) end = m->period_start[q] - 1;
        if (frame >= m->period_start[p] && (end < 0 || frame <= end)) {
            *start = m->period_start[p];
            return p;
        }
    }
    return any ? 0 : -1;
}

static int period_flip(const ep_run *run, const ep_spec *s, int period) {
    int plus = -1;
    if (run->first_half_plus >= 0 && period <= 2)
        plus = period == 1 ? run->first_half_plus : !run->first_half_plus;
    if (plus < 0) {
        mx_mean home = {0, 0}, away = {0, 0};
        for (int k = 0; k < s->nslots; k++) {
            fa_side side = run->m->players[s->slot_player[k]].p.side;
            if (!isnan(run->vals.sy[k])) mx_mean_add(side == FA_SIDE_HOME ? &home : &away, run->vals.sx[k]);
        }
        plus = mx_home_attacks_raw_plus(&home, &away);
    }
    return plus < 0 ? 0 : mx_flip_for(period, plus);
}

static int emit_frame(ep_run *run, const ep_spec *s) {
    const ep_meta *m = run->m;
    fa_frame f;
    fa_frame_init(&f);
    f.frame = run->vals.frame;
    f.period = run->period;
    f.t = (double)(run->vals.frame - run->period_start) / m->frame_rate;
    double x, y;
    fa_pitch_from_provider(&run->pitch, 1.0, 1.0, 1, run->flip, run->vals.bx, run->vals.by, &x, &y);
    f.ball_x = (float)x;
    f.ball_y = (float)y;
    for (int k = 0; k < s->nslots; k++) {
        if (isnan(run->vals.sx[k]) || isnan(run->vals.sy[k])) continue;
        const fa_player *p = &m->players[s->slot_player[k]].p;
        fa_pitch_from_provider(&run->pitch, 1.0, 1.0, 1, run->flip, run->vals.sx[k], run->vals.sy[k], &x, &y);
        run->players[f.n] = (fa_frame_player){p->id, p->side, (float)x, (float)y};
        f.n++;
    }
    f.players = run->players;
    return run->sink->frame ? run->sink->frame(run->sink->ud, &f) : 0;
}

/* Sets the frame's period (and its flip on entering it); 0 = skip the frame. */
static int place_frame(ep_run *run, const ep_line_ctx *c, const ep_spec *s) {
    int64_t start = 0;
    int period = frame_period(run->m, run->vals.frame, &start);
    if (period == 0) return 0;
    if (period < 0) {
        period = 1;
        start = run->period ? run->period_start : run->vals.frame;
    }
    if (period < run->period)
        return line_error(c, c->start, "frame %" PRId64 " goes back from period %d to %d", run->vals.frame,
                          run->period, period);
    if (period != run->period) run->flip = period_flip(run, s, period);
    run->period = period;
    run->period_start = start;
    return 1;
}

static int handle_line(ep_run *run, ep_lines *r) {
    ep_line_ctx c = {run->m, r->name, r->line.data, r->lineno, &run->vals};
    size_t bad;
    if (!fa_utf8_valid(r->line.data, r->line.len, &bad))
        return line_error(&c, r->line.data + bad, "invalid UTF-8");
    if (memchr(r->line.data, '\0', r->line.len))
        return line_error(&c, (const char *)memchr(r->line.data, '\0', r->line.len), "NUL byte");
    int si = pick_spec(&c, r->line.data, r->line.len, run->spec_hint);
    if (si < 0) return si;
    run->spec_hint = si;
    const ep_spec *s = &run->m->specs[si];
    for (int k = 0; k < s->nslots; k++) run->vals.sx[k] = run->vals.sy[k] = NAN;
    run->vals.bx = run->vals.by = NAN;
    int rc = parse_node(&c, s->root, r->line.data, r->line.len);
    if (rc) return rc;
    if (run->vals.frame <= run->last_frame)
        return line_error(&c, c.start, "frame %" PRId64 " does not follow frame %" PRId64, run->vals.frame,
                          run->last_frame);
    run->last_frame = run->vals.frame;
    rc = place_frame(run, &c, s);
    return rc <= 0 ? rc : emit_frame(run, s);
}

static int read_tracking(ep_run *run, ep_lines *r) {
    int rc;
    while ((rc = lines_next(r)) > 0) {
        if (r->line.len == 0) continue;
        rc = handle_line(run, r);
        if (rc) return rc;
    }
    return rc;
}

/* ------------------------------------------------------------ the import */

static void fill_match(const ep_meta *m, const char *meta_path, const char *track_path, fa_match *match) {
    mx_match_init(match);
    mx_match_id(meta_path, "_metadata", match->id, sizeof match->id);
    mx_match_source(match, meta_path, track_path);
    fa_strlcpy_utf8(match->competition, m->competition, sizeof match->competition);
    match->pitch.length = m->length;
    match->pitch.width = m->width;
    match->frame_rate = m->frame_rate;
    for (int k = 0; k < m->nteams; k++) {
        fa_team *t = &match->teams[k == m->home_team ? FA_SIDE_HOME : FA_SIDE_AWAY];
        fa_strlcpy_utf8(t->id, m->teams[k].id, sizeof t->id);
        fa_strlcpy_utf8(t->name, m->teams[k].name, sizeof t->name);
    }
    match->score[FA_SIDE_HOME] = m->local_score;
    match->score[FA_SIDE_AWAY] = m->visiting_score;
}

static int emit_head(const ep_meta *m, const fa_match *match, const fa_sink *sink) {
    int rc = sink->begin ? sink->begin(sink->ud, match) : 0;
    for (int i = 0; !rc && i < m->nplayers; i++)
        rc = sink->player ? sink->player(sink->ud, &m->players[i].p) : 0;
    return rc;
}

static int run_import(const ep_meta *m, const char *meta_path, const char *track_path, FILE *f,
                      const fa_sink *sink) {
    fa_match match;
    fill_match(m, meta_path, track_path, &match);
    int rc = emit_head(m, &match, sink);
    if (rc) return rc;
    ep_run *run = fa_calloc(1, sizeof *run);
    ep_lines *r = fa_calloc(1, sizeof *r);
    if (!run || !r) rc = FA_ENOMEM;
    if (!rc) {
        *run = (ep_run){.m = m, .sink = sink, .pitch = match.pitch, .last_frame = -1};
        run->first_half_plus = meta_home_first_half(m);
        r->f = f;
        r->name = fa_path_base(track_path);
        rc = read_tracking(run, r);
    }
    if (r) fa_buf_free(&r->line);
    free(run);
    free(r);
    if (!rc && sink->end) rc = sink->end(sink->ud, &match);
    return rc;
}

/* Imports FIFA EPTS tracking: metadata_path is the XML metadata, tracking_path
 * the frame lines it describes. Streams begin, one player per <Player> (side
 * from its team, shirt and name from the metadata, minutes unknown), one
 * frame per tracking line inside a period, then end. Returns 0, the first
 * non-zero sink return, or FA_EINVAL / FA_ELIMIT / FA_EIO / FA_ENOMEM with
 * "file:line:col" (XML) or "file:line: column N" (frames) in the message. */
int fa_epts_import(const char *metadata_path, const char *tracking_path, const fa_sink *sink) {
    ep_meta m;
    int rc = meta_read(metadata_path, &m);
    FILE *f = NULL;
    if (!rc) rc = fa_file_check(tracking_path);
    if (!rc && !(f = fopen(tracking_path, "rb")))
        rc = fa_err_set(FA_EIO, "%s: cannot open", fa_path_base(tracking_path));
    if (!rc) rc = run_import(&m, metadata_path, tracking_path, f, sink);
    if (f) fclose(f);
    meta_free(&m);
    return rc;
}
