/* fuzz_objstore_s3_xml.c -- the S3 backend's readers of server answers:
 * the ListObjectsV2 parser, the element/entity reader, the ISO-8601 time
 * parser, and the key checker (keys come back from listings).
 *
 * The first byte picks nothing: every input goes through every reader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/objstore/objstore_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *xml = (const char *)data;
    objstore_list_page page = {0};
    if (objstore__s3_parse_list(xml, size, &page, NULL) == QV_OK) {
        for (size_t i = 0; i < page.count; i++)
            if (!page.entries[i].key || strlen(page.entries[i].key) == 0 ||
                strlen(page.entries[i].key) > OBJSTORE_KEY_MAX)
                abort();
    }
    objstore_list_page_release(&page);
    static const char *const tags[] = {"Key", "Code", "Message", "UploadId",
                                       "NextContinuationToken"};
    for (size_t t = 0; t < sizeof(tags) / sizeof(tags[0]); t++) {
        char *out = NULL;
        size_t pos = 0;
        if (objstore__xml_text(xml, size, tags[t], &out, &pos) == QV_OK) {
            if (!out || pos > size)
                abort();
            free(out);
        }
    }
    char *s = qv_xstrndup(xml, size);
    (void)objstore__parse_iso8601_ms(s);
    (void)objstore_key_check(s, false, NULL);
    (void)objstore_key_check(s, true, NULL);
    free(s);
    return 0;
}
