from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from apps.accounts.models import User


class PhoneUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("phone",)


class PhoneUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = PhoneUserChangeForm
    add_form = PhoneUserCreationForm
    ordering = ("-date_joined",)
    list_display = ("phone", "display_name", "did", "evm_address", "reputation_score", "is_staff", "date_joined")
    list_filter = ("is_staff", "is_active", "preferred_language")
    search_fields = ("phone", "did", "evm_address", "display_name")
    readonly_fields = ("date_joined", "last_login")
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("phone", "password")}),
        ("Profile", {"fields": ("display_name", "preferred_language", "reputation_score")}),
        ("Identity", {"fields": ("did", "evm_address")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("phone", "password1", "password2")}),)
