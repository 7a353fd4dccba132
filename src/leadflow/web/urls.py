"""URLs of the web UI: login/logout, lead pages (`crm:`), settings screens (`config:`), buckets,
submissions and possible duplicates (`intake:`), clients and conversion (`clients:`) and the
public web forms (`webforms:`)."""

from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from leadflow.web.views import (
    activities,
    auth,
    buckets,
    clients,
    config,
    duplicates,
    exports,
    imports,
    leads,
    lists,
    ownership,
    pipeline,
    privacy,
    retirement,
    routing_config,
    tags,
    webforms,
    work,
)

crm_patterns = [
    path("", leads.lead_list, name="lead_list"),
    path("new/", leads.lead_create, name="lead_create"),
    path("<int:lead_id>/", leads.lead_detail, name="lead_detail"),
    path("<int:lead_id>/edit/", leads.lead_edit, name="lead_edit"),
    path("<int:lead_id>/stage/", leads.lead_stage, name="lead_stage"),
    path("<int:lead_id>/timeline/", leads.lead_timeline, name="lead_timeline"),
    path("<int:lead_id>/delete/", leads.lead_delete, name="lead_delete"),
    path("<int:lead_id>/merge/", leads.lead_merge, name="lead_merge"),
    path("<int:lead_id>/assign/", ownership.lead_assign, name="lead_assign"),
    path("<int:lead_id>/unassign/", ownership.lead_unassign, name="lead_unassign"),
    path("<int:lead_id>/route/", ownership.lead_route, name="lead_route"),
    path("<int:lead_id>/offer/", ownership.lead_offer, name="lead_offer"),
    path("<int:lead_id>/claim/", ownership.lead_claim, name="lead_claim"),
    path("<int:lead_id>/take-ownership/", ownership.lead_take, name="lead_take"),
    path("<int:lead_id>/release/", ownership.lead_release, name="lead_release"),
    path("bulk/", ownership.lead_bulk, name="lead_bulk"),
]

work_patterns = [
    path("offers/", work.offer_inbox, name="offer_inbox"),
    path("offers/<int:offer_id>/accept/", ownership.offer_accept, name="offer_accept"),
    path("offers/<int:offer_id>/decline/", ownership.offer_decline, name="offer_decline"),
    path("offers/<int:offer_id>/cancel/", ownership.offer_cancel, name="offer_cancel"),
    path("pools/", work.pool_list, name="pool_list"),
    path("pools/away/<int:project_id>/", work.my_away, name="my_away"),
    path("pools/owners/", ownership.pool_owner_options, name="pool_owner_options"),
    path("pools/<int:pool_id>/", work.pool_detail, name="pool_detail"),
    path("pools/<int:pool_id>/next/", work.pool_next, name="pool_next"),
    path("notifications/", work.notification_list, name="notifications"),
    path("notifications/read/", work.notifications_read, name="notifications_read"),
    path("notifications/<int:notification_id>/open/", work.notification_open,
         name="notification_open"),
]

intake_patterns = [
    path("buckets/", buckets.bucket_list, name="bucket_list"),
    path("buckets/new/<int:project_id>/", buckets.bucket_create, name="bucket_create"),
    path("buckets/<int:bucket_id>/", buckets.bucket_detail, name="bucket_detail"),
    path("buckets/<int:bucket_id>/edit/", buckets.bucket_edit, name="bucket_edit"),
    path("buckets/<int:bucket_id>/rotate-key/", buckets.bucket_rotate_key,
         name="bucket_rotate_key"),
    path("submissions/<int:submission_id>/", buckets.submission_detail,
         name="submission_detail"),
    path("submissions/<int:submission_id>/reprocess/", buckets.submission_reprocess,
         name="submission_reprocess"),
    path("duplicates/", duplicates.duplicate_list, name="duplicate_list"),
    path("duplicates/<int:pair_id>/merge/", duplicates.duplicate_merge, name="duplicate_merge"),
    path("duplicates/<int:pair_id>/dismiss/", duplicates.duplicate_dismiss,
         name="duplicate_dismiss"),
]

clients_patterns = [
    path("clients/", clients.client_list, name="client_list"),
    path("clients/<int:client_id>/", clients.client_detail, name="client_detail"),
    path("clients/<int:client_id>/edit/", clients.client_edit, name="client_edit"),
    path("leads/<int:lead_id>/convert/", clients.lead_convert, name="lead_convert"),
]

webform_patterns = [
    path("<slug:project_slug>/<int:source_id>/", webforms.public_form, name="form"),
    path("<slug:project_slug>/<int:source_id>/thanks/", webforms.public_form_thanks,
         name="thanks"),
]

exports_patterns = [
    path("", exports.export_list, name="export_list"),
    path("new/", exports.export_new, name="export_new"),
    path("<int:export_id>/download/", exports.export_download, name="export_download"),
]

imports_patterns = [
    path("imports/", imports.import_list, name="import_list"),
    path("imports/new/<str:name>/", imports.import_mapping, name="import_mapping"),
    path("imports/<int:import_id>/", imports.import_detail, name="import_detail"),
    path("imports/<int:import_id>/run/", imports.import_run, name="import_run"),
]

retirement_patterns = [
    path("retired-leads/", retirement.retired_list, name="retired_list"),
]

config_patterns = [
    path("", config.index, name="index"),
    path("personal-data/", privacy.personal_data, name="personal_data"),
    path("personal-data/export/", privacy.personal_data_export, name="personal_data_export"),
    path("personal-data/erase/", privacy.personal_data_erase, name="personal_data_erase"),
    path("projects/", config.project_list, name="project_list"),
    path("projects/<int:project_id>/", config.project_edit, name="project_edit"),
    path("projects/<int:project_id>/members/", config.members, name="members"),
    path("projects/<int:project_id>/members/<int:user_id>/role/", config.member_role,
         name="member_role"),
    path("projects/<int:project_id>/members/<int:user_id>/remove/", config.member_remove,
         name="member_remove"),
    path("projects/<int:project_id>/members/<int:user_id>/away/", routing_config.member_away,
         name="member_away"),
    path("projects/<int:project_id>/sources/", config.sources, name="sources"),
    path("sources/<int:source_id>/", config.source_edit, name="source_edit"),
    path("projects/<int:project_id>/pools/", config.pools, name="pools"),
    path("pools/<int:pool_id>/", config.pool_edit, name="pool_edit"),
    path("pools/<int:pool_id>/delete/", config.pool_delete, name="pool_delete"),
    path("projects/<int:project_id>/stages/", config.stages, name="stages"),
    path("stages/<int:stage_id>/", config.stage_edit, name="stage_edit"),
    path("stages/<int:stage_id>/move/", config.stage_move, name="stage_move"),
    path("stages/<int:stage_id>/delete/", config.stage_delete, name="stage_delete"),
    path("projects/<int:project_id>/fields/", config.field_definitions,
         name="field_definitions"),
    path("fields/<int:definition_id>/", config.field_definition_edit,
         name="field_definition_edit"),
    path("fields/<int:definition_id>/delete/", config.field_definition_delete,
         name="field_definition_delete"),
    path("projects/<int:project_id>/offices/", routing_config.offices, name="offices"),
    path("offices/<int:office_id>/", routing_config.office_edit, name="office_edit"),
    path("offices/<int:office_id>/delete/", routing_config.office_delete, name="office_delete"),
    path("projects/<int:project_id>/groups/", routing_config.groups, name="groups"),
    path("groups/<int:group_id>/", routing_config.group_edit, name="group_edit"),
    path("groups/<int:group_id>/delete/", routing_config.group_delete, name="group_delete"),
    path("projects/<int:project_id>/rules/", routing_config.rules, name="rules"),
    path("rules/<int:rule_id>/", routing_config.rule_edit, name="rule_edit"),
    path("rules/<int:rule_id>/agents/", routing_config.rule_agents, name="rule_agents"),
    path("rules/<int:rule_id>/move/", routing_config.rule_move, name="rule_move"),
    path("rules/<int:rule_id>/delete/", routing_config.rule_delete, name="rule_delete"),
    path("projects/<int:project_id>/tags/", tags.tags, name="tags"),
    path("tags/<int:tag_id>/", tags.tag_edit, name="tag_edit"),
    path("tags/<int:tag_id>/delete/", tags.tag_delete, name="tag_delete"),
    path("projects/<int:project_id>/tag-rules/", tags.tag_rules, name="tag_rules"),
    path("tag-rules/<int:rule_id>/", tags.tag_rule_edit, name="tag_rule_edit"),
    path("tag-rules/<int:rule_id>/delete/", tags.tag_rule_delete, name="tag_rule_delete"),
    path("projects/<int:project_id>/lists/", lists.lists, name="lists"),
    path("lists/<int:list_id>/", lists.list_detail, name="list_detail"),
    path("lists/<int:list_id>/delete/", lists.list_delete, name="list_delete"),
    path("lists/<int:list_id>/leads/", lists.list_add_lead, name="list_add_lead"),
    path("lists/<int:list_id>/leads/<int:lead_id>/remove/", lists.list_remove_lead,
         name="list_remove_lead"),
    path("projects/<int:project_id>/campaigns/", lists.campaigns, name="campaigns"),
    path("campaigns/<int:campaign_id>/", lists.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:campaign_id>/lists/", lists.campaign_lists, name="campaign_lists"),
    path("campaigns/<int:campaign_id>/delete/", lists.campaign_delete, name="campaign_delete"),
    path("system/", config.system_settings, name="system"),
    path("users/", config.user_list, name="users"),
    path("users/<int:user_id>/", config.user_edit, name="user_edit"),
    path("users/<int:user_id>/unlock/", config.user_unlock, name="user_unlock"),
]

tags_patterns = [
    path("leads/<int:lead_id>/tags/", tags.lead_tags, name="lead_tags"),
    path("approvals/", tags.approvals, name="approvals"),
    path("approvals/<int:request_id>/decide/", tags.decide, name="decide"),
]

pipeline_patterns = [
    path("pipeline/", pipeline.board, name="board"),
    path("pipeline/leads/<int:lead_id>/move/", pipeline.board_move, name="board_move"),
    path("my-day/", activities.my_day, name="my_day"),
    path("leads/<int:lead_id>/activities/", activities.activity_log, name="activity_log"),
    path("leads/<int:lead_id>/next-call/", activities.next_call, name="next_call"),
    path("settings/stages/<int:stage_id>/retire/", pipeline.stage_retire, name="stage_retire"),
    path("settings/projects/<int:project_id>/<slug:kind>/", pipeline.choice_list,
         name="choices"),
    path("settings/<slug:kind>/<int:entry_id>/", pipeline.choice_edit, name="choice_edit"),
    path("settings/<slug:kind>/<int:entry_id>/delete/", pipeline.choice_delete,
         name="choice_delete"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="crm:lead_list"), name="home"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("leads/", include((crm_patterns, "crm"))),
    path("settings/", include((config_patterns, "config"))),
    path("", include((intake_patterns, "intake"))),
    path("", include((work_patterns, "work"))),
    path("", include((tags_patterns, "tags"))),
    path("", include((clients_patterns, "clients"))),
    path("f/", include((webform_patterns, "webforms"))),
    path("", include((pipeline_patterns, "pipeline"))),
    path("", include((retirement_patterns, "retirement"))),
    path("exports/", include((exports_patterns, "exports"))),
    path("", include((imports_patterns, "imports"))),
]
